//! The client side of MCP authorization: reading a server's challenge,
//! discovering its authorization server, and getting a client ID there.
//! Start at [`discover`].

mod challenge;
mod discovery;
mod registration;
mod safe_fetch;

pub use challenge::{BearerChallenge, Challenge};
pub use discovery::{Discovery, discover, discover_with};
pub use registration::{
    ClientConfig, ClientCredentials, ClientMetadataDocument, Registration, RegistrationMethod,
    Secret, register, register_with,
};
pub use safe_fetch::{FetchPolicy, SafeFetcher};
