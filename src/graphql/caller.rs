//! Who calls the admin API: an admin token, or the member an SSO session cookie names.

use async_graphql::{Context, ErrorExtensions};

use crate::domain::{self, admin::Principal};
use crate::state::AppState;

/// Who called, as the request established it; `None` when no valid admin token or session was
/// presented.
pub(super) struct Caller(Option<Principal>);

/// The authenticated caller, or `UNAUTHENTICATED`.
pub(super) fn principal<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    ctx.data::<Caller>()?
        .0
        .as_ref()
        .ok_or_else(|| domain::Error::Unauthenticated.extend())
}

/// The caller: an admin token when one is presented (bootstrap and break-glass), else the SSO
/// session cookie's member.
pub(super) async fn caller_for(
    state: &AppState,
    token: Option<&str>,
    session: Option<&str>,
) -> Result<Caller, domain::Error> {
    let authenticated = match (
        token
            .map(crate::domain::secrets::from_authorization)
            .filter(|t| !t.is_empty()),
        session,
    ) {
        (Some(token), _) => domain::admin::authenticate(&state.store, token).await,
        (None, Some(session)) => domain::sessions::authenticate(&state.store, session).await,
        (None, None) => return Ok(Caller(None)),
    };
    match authenticated {
        Ok(p) => Ok(Caller(Some(p))),
        Err(domain::Error::Unauthenticated) => Ok(Caller(None)),
        Err(e) => Err(e),
    }
}
