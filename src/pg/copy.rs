//! Binary COPY (`COPY … TO STDOUT (FORMAT binary)`) decoder into Arrow record batches.
