//! Who calls the admin API: an admin token, or the member an SSO session cookie names.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{Context, ErrorExtensions, Pos, Request, ServerResult};

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

/// Marks a WebSocket connection's data: its `Caller` was established at `connection_init`, and
/// every operation sent on it later reads the credential again ([`Reauthenticate`]).
pub(super) struct OverWebSocket;

/// Over WebSocket the caller is established once, when the connection opens; this re-reads its
/// credential at the start of every operation sent on it (a query, a mutation, a subscription),
/// so a socket opened before a sign-out, a revocation or an expiry can't go on using it: the
/// operation then runs as nobody (`UNAUTHENTICATED`). Live subscriptions check again as they
/// deliver (`directory::SubscriptionRoot`). HTTP requests authenticate each time already.
pub(super) struct Reauthenticate;

impl ExtensionFactory for Reauthenticate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Reauthenticate)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Reauthenticate {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let opened = (
            ctx.data_opt::<OverWebSocket>(),
            ctx.data_opt::<Caller>(),
            ctx.data_opt::<AppState>(),
        );
        let request = match opened {
            (Some(OverWebSocket), Some(Caller(Some(principal))), Some(state)) => {
                match domain::admin::recheck(&state.store, principal, false).await {
                    Ok(()) => request,
                    Err(domain::Error::Unauthenticated) => request.data(Caller(None)),
                    Err(e) => return Err(e.extend().into_server_error(Pos::default())),
                }
            }
            _ => request,
        };
        next.run(ctx, request).await
    }
}
