//! The claim checks JWT and introspection share: `iss`, `aud`, `exp`, `nbf`, the phone
//! number and the scopes. Pure: the caller passes the time.

use serde_json::{Map, Value};

use super::{is_phone_number, scope, Identity};
use crate::ApiError;

/// What a token's claims must say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect<'a> {
    /// `iss` must equal this (RFC 7519 §4.1.1), when set.
    pub issuer: Option<&'a str>,
    /// `aud` (a string or an array) must contain this (RFC 7519 §4.1.3), when set.
    pub audience: Option<&'a str>,
    /// Whether `exp` must be present (JWT access tokens, RFC 9068 §2.2).
    pub exp_required: bool,
    /// The claim that carries the phone number.
    pub phone_claim: &'a str,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub leeway: u64,
}

fn refuse(why: &str) -> ApiError {
    ApiError::Unauthenticated(why.to_owned())
}

/// A NumericDate claim (RFC 7519 §2: seconds, possibly fractional), in whole seconds.
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<u64>, ApiError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(t) if t.is_finite() && t >= 0.0 => Ok(Some(t as u64)),
            _ => Err(refuse(&format!("the token's {name} is not a NumericDate"))),
        },
    }
}

/// The [`Identity`] the claims stand for at `now` (Unix seconds), or why not (401).
pub(crate) fn identity(
    claims: &Map<String, Value>,
    now: u64,
    expect: &Expect<'_>,
) -> Result<Identity, ApiError> {
    // RFC 7519 §4.1.4: not accepted on or after exp (plus the leeway).
    match numeric_date(claims, "exp")? {
        Some(exp) if now >= exp.saturating_add(expect.leeway) => {
            return Err(refuse("the token has expired"))
        }
        None if expect.exp_required => return Err(refuse("the token has no exp")),
        _ => {}
    }
    // RFC 7519 §4.1.5: not accepted before nbf (minus the leeway).
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now.saturating_add(expect.leeway) < nbf {
            return Err(refuse("the token is not valid yet"));
        }
    }
    if let Some(issuer) = expect.issuer {
        if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(refuse("the token is from another issuer"));
        }
    }
    if let Some(audience) = expect.audience {
        let ours = match claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !ours {
            return Err(refuse("the token is for another audience"));
        }
    }
    let phone = claims
        .get(expect.phone_claim)
        .and_then(Value::as_str)
        .map(|p| p.strip_prefix("tel:").unwrap_or(p))
        .filter(|p| is_phone_number(p))
        .ok_or_else(|| {
            refuse(&format!(
                "the token's {} claim is not a phone number (+… or tel:+…)",
                expect.phone_claim
            ))
        })?;
    Ok(Identity {
        phone_number: phone.to_owned(),
        scopes: scope::from_claims(claims),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXPECT: Expect<'static> = Expect {
        issuer: Some("https://idp.example"),
        audience: Some("rtcgate"),
        exp_required: true,
        phone_claim: "phone_number",
        leeway: 30,
    };

    fn check(claims: Value, now: u64) -> Result<Identity, ApiError> {
        identity(claims.as_object().unwrap_or(&Map::new()), now, &EXPECT)
    }

    fn good() -> Value {
        json!({"iss": "https://idp.example", "aud": ["x", "rtcgate"], "exp": 1000,
               "nbf": 500, "phone_number": "tel:+15550001", "scope": "a b"})
    }

    #[test]
    fn good_claims_give_the_number_and_scopes() {
        let who = check(good(), 700).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(who.phone_number, "+15550001");
        assert_eq!(who.scopes, ["a", "b"]);
    }

    #[test]
    fn each_bad_claim_is_refused() {
        let cases: [(&str, Value, u64); 7] = [
            ("expired past leeway", json!(1000), 1030),
            ("nbf ahead past leeway", json!(1000), 469),
            ("iss", json!("https://evil.example"), 700),
            ("aud", json!("other"), 700),
            ("phone", json!("15550001"), 700),
            ("exp missing", Value::Null, 700),
            ("exp not a number", json!("soon"), 700),
        ];
        for (what, value, now) in cases {
            let mut claims = good();
            let field = match what {
                "expired past leeway" | "exp not a number" => "exp",
                "nbf ahead past leeway" => "nbf",
                "iss" => "iss",
                "aud" => "aud",
                "phone" => "phone_number",
                _ => "exp",
            };
            if value.is_null() {
                claims.as_object_mut().map(|c| c.remove(field));
            } else {
                claims[field] = value;
            }
            let err = check(claims, now).err();
            assert!(
                matches!(err, Some(ApiError::Unauthenticated(_))),
                "{what}: {err:?}"
            );
        }
    }

    #[test]
    fn leeway_covers_small_skew() {
        assert!(check(good(), 1029).is_ok(), "29 s after exp, within leeway");
        assert!(check(good(), 470).is_ok(), "30 s before nbf, within leeway");
    }
}
