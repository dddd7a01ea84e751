//! The client side of MCP authorization: reading a server's challenge,
//! discovering its authorization server, getting a client ID there, and
//! getting, keeping and renewing access tokens. Start at [`discover`].

mod browser;
mod challenge;
mod cimd;
mod discovery;
pub mod flow;
pub mod pkce;
mod provider;
mod registration;
pub mod store;

pub use crate::secret::Secret;
pub use browser::open_browser;
pub use challenge::{BearerChallenge, Challenge};
pub use cimd::ClientMetadataDocument;
pub use discovery::{Discovery, discover, discover_with};
pub use provider::OAuth;
pub use registration::{
    ClientConfig, ClientCredentials, Registration, RegistrationMethod, register, register_with,
};
