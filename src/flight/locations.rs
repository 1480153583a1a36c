//! Where each endpoint of a split read may be fetched: the advertised instances (`advertise`),
//! rotated per endpoint so that N endpoints name N different instances first and a client that
//! tries the locations in order spreads the reads (and falls back to the next instance when
//! one is gone). Any instance can serve any ticket: tickets carry their whole plan, sealed
//! with the shared `ticket_secret`, and the snapshot they read is PostgreSQL's.

use arrow_flight::{FlightEndpoint, Location};

/// The advertised Flight locations, as configured.
#[derive(Debug, Clone, Default)]
pub struct Advertised {
    locations: Vec<String>,
}

impl Advertised {
    /// The locations of `advertise`, in their configured order.
    pub fn new(locations: Vec<String>) -> Advertised {
        Advertised { locations }
    }

    /// Endpoint `index` of `count` with its locations: none when nothing is advertised or the
    /// read is not split (one endpoint, read on the client's own connection); otherwise every
    /// advertised instance, starting at `index` (modulo their number).
    pub fn place(&self, endpoint: FlightEndpoint, index: usize, count: usize) -> FlightEndpoint {
        if count < 2 || self.locations.is_empty() {
            return endpoint;
        }
        let n = self.locations.len();
        let location = (0..n).map(|k| Location {
            uri: self.locations[(index + k) % n].clone(),
        });
        FlightEndpoint {
            location: location.collect(),
            ..endpoint
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(endpoint: &FlightEndpoint) -> Vec<&str> {
        endpoint.location.iter().map(|l| l.uri.as_str()).collect()
    }

    #[test]
    fn endpoints_start_on_different_instances() {
        let advertised = Advertised::new(vec!["grpc://a:1".into(), "grpc://b:1".into()]);
        let placed: Vec<FlightEndpoint> = (0..4)
            .map(|i| advertised.place(FlightEndpoint::new(), i, 4))
            .collect();
        assert_eq!(uris(&placed[0]), ["grpc://a:1", "grpc://b:1"]);
        assert_eq!(uris(&placed[1]), ["grpc://b:1", "grpc://a:1"]);
        assert_eq!(uris(&placed[2]), ["grpc://a:1", "grpc://b:1"]);
        let three = Advertised::new(vec!["x".into(), "y".into(), "z".into()]);
        let firsts: Vec<String> = (0..3)
            .map(|i| {
                three.place(FlightEndpoint::new(), i, 3).location[0]
                    .uri
                    .clone()
            })
            .collect();
        assert_eq!(firsts, ["x", "y", "z"]);
    }

    #[test]
    fn unsplit_reads_and_no_advertise_carry_no_location() {
        let advertised = Advertised::new(vec!["grpc://a:1".into()]);
        assert!(
            advertised
                .place(FlightEndpoint::new(), 0, 1)
                .location
                .is_empty()
        );
        let none = Advertised::default();
        assert!(none.place(FlightEndpoint::new(), 1, 4).location.is_empty());
    }
}
