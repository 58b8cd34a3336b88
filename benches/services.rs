//! Benchmarks of the public-service requests (filled in by the services benchmark work).
fn main() {}
