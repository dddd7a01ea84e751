//! Who the client is at the token endpoint, and how it proves it.

use jsonwebtoken::Algorithm;

use crate::client::Secret;
use crate::error::{Error, Reason};
use crate::metadata::AuthorizationServerMetadata;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// A public client: `client_id` in the body, no secret.
    None,
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the body.
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2), made
    /// afresh for every request.
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    /// The method named `name` in `token_endpoint_auth_method(s_supported)`,
    /// if it is one of these.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            _ => None,
        }
    }

    /// The registered name (`none`, `client_secret_basic`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// The private key of a client that authenticates with `private_key_jwt`,
/// with the algorithm it signs with and the `kid` of its public half.
/// `Debug` does not show the key.
#[derive(Clone)]
#[non_exhaustive]
pub struct SigningKey {
    key: jsonwebtoken::EncodingKey,
    algorithm: Algorithm,
    kid: Option<String>,
}

impl SigningKey {
    /// A key from its DER encoding: PKCS#1 for the RSA algorithms (`RS*`,
    /// `PS*`), PKCS#8 for `ES256`, `ES384` and `EdDSA`.
    ///
    /// # Errors
    /// [`Error::Config`] for a symmetric algorithm, or a key that does not
    /// sign with `algorithm`.
    pub fn from_der(algorithm: Algorithm, der: &[u8]) -> Result<Self, Error> {
        use jsonwebtoken::EncodingKey;
        let key = match algorithm {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => EncodingKey::from_rsa_der(der),
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_der(der),
            Algorithm::EdDSA => EncodingKey::from_ed_der(der),
            other => {
                return Err(Error::Config(
                    format!("{other:?} is not an algorithm for private_key_jwt").into(),
                ));
            }
        };
        // Signing once now turns a bad key into an error here, not at the
        // token endpoint.
        jsonwebtoken::encode(&jsonwebtoken::Header::new(algorithm), &(), &key).map_err(|e| {
            let why = format!("the key does not sign with {algorithm:?}: {e}");
            Error::Config(Reason::caused_by(why, e))
        })?;
        Ok(Self {
            key,
            algorithm,
            kid: None,
        })
    }

    /// Names the key (`kid` in the assertion's header), as in the client's
    /// registered JWKS.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// A client assertion (RFC 7523 §3) for `client_id` to present to the
    /// authorization server `audience` (its issuer): `iss` and `sub` the
    /// client, a fresh `jti`, valid for a minute.
    pub(super) fn assertion(&self, client_id: &str, audience: &str) -> Result<String, Error> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": crate::client::pkce::random_b64(24)?,
            "iat": now,
            "exp": now + 60,
        });
        let mut header = jsonwebtoken::Header::new(self.algorithm);
        header.kid.clone_from(&self.kid);
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| {
            Error::Config(Reason::caused_by(
                format!("cannot sign the client assertion: {e}"),
                e,
            ))
        })
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Who the client is at one authorization server: its `client_id`, and
/// for a confidential client its secret or its signing key. `Debug` shows
/// neither.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Credentials {
    /// The client identifier.
    pub client_id: String,
    /// The client secret of a confidential client.
    pub client_secret: Option<Secret>,
    /// The private key of a client that authenticates with
    /// `private_key_jwt`.
    pub signing_key: Option<SigningKey>,
    /// The `token_endpoint_auth_method` the client was registered with;
    /// when unset, one is chosen from what the server supports (see
    /// [`Credentials::auth_method`]).
    pub auth_method: Option<ClientAuthMethod>,
}

impl Credentials {
    /// A public client (no secret).
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            signing_key: None,
            auth_method: None,
        }
    }

    /// A confidential client with `client_secret`.
    pub fn confidential(client_id: impl Into<String>, client_secret: Secret) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Some(client_secret),
            signing_key: None,
            auth_method: None,
        }
    }

    /// A confidential client that signs its assertions with `key`
    /// (`private_key_jwt`).
    pub fn private_key(client_id: impl Into<String>, key: SigningKey) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            signing_key: Some(key),
            auth_method: None,
        }
    }

    /// Uses `method`, as registered, whatever the server metadata lists.
    #[must_use]
    pub fn with_auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.auth_method = Some(method);
        self
    }

    /// How these credentials authenticate at `metadata`'s token endpoint:
    /// the registered method when set; else, as
    /// `token_endpoint_auth_methods_supported` allows (when absent, RFC 8414
    /// says `client_secret_basic`), `private_key_jwt` with a signing key,
    /// then `client_secret_basic` or `client_secret_post` with a secret;
    /// `none` with neither.
    ///
    /// # Errors
    /// [`Error::Config`] when the registered method needs a secret or key
    /// there is not, or the server supports no method these credentials
    /// can use.
    pub fn auth_method(
        &self,
        metadata: &AuthorizationServerMetadata,
    ) -> Result<ClientAuthMethod, Error> {
        use ClientAuthMethod as M;
        let usable = |m: M| match m {
            M::None => true,
            M::ClientSecretBasic | M::ClientSecretPost => self.client_secret.is_some(),
            M::PrivateKeyJwt => self.signing_key.is_some(),
        };
        if let Some(method) = self.auth_method {
            return if usable(method) {
                Ok(method)
            } else {
                Err(Error::Config(
                    format!(
                        "{} needs a client secret or key these credentials lack",
                        method.name()
                    )
                    .into(),
                ))
            };
        }
        if self.client_secret.is_none() && self.signing_key.is_none() {
            return Ok(M::None);
        }
        let supported = &metadata.token_endpoint_auth_methods_supported;
        let listed = |m: M| {
            supported.iter().any(|s| s == m.name())
                || (supported.is_empty() && m == M::ClientSecretBasic)
        };
        [M::PrivateKeyJwt, M::ClientSecretBasic, M::ClientSecretPost]
            .into_iter()
            .find(|&m| usable(m) && listed(m))
            .ok_or_else(|| {
                Error::Config(
                    format!(
                        "{} supports no client authentication these credentials can do",
                        metadata.issuer
                    )
                    .into(),
                )
            })
    }
}
