//! The hash map of the maps looked up on every request.
//!
//! `std`'s SipHash costs about 200 instructions for a session id, and a
//! legacy request looked up four such maps (its session, the session's
//! record, the requests in flight twice, the client's quota): about 1,400
//! instructions, 3% of the whole request. `foldhash` does the same work in
//! a fraction of that, with a random seed per map.
//!
//! Its resistance to chosen collisions is weaker than SipHash's, so it is
//! used only where a peer cannot fill a map with keys of its choosing:
//! session ids are drawn by the server; request ids in flight are capped per
//! session (`ServerOptions::max_in_flight`); quota keys are addresses and
//! authenticated principals, one entry per client holding something now.

/// A `HashMap` hashed by `foldhash`, randomly seeded.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
