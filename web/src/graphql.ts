// The page's only channel to the gateway: GraphQL over HTTP at /graphql and over WebSocket for the
// live activity. Documents are typed from the repo's schema.graphql (gql.tada), so a schema change
// that breaks the page breaks its build.
import { initGraphQLTada, type TadaDocumentNode } from 'gql.tada';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import type { introspection } from './graphql-env.d.ts';

export const graphql = initGraphQLTada<{ introspection: introspection; scalars: { DateTime: string } }>();
export type { ResultOf, VariablesOf } from 'gql.tada';

/** A GraphQL error with its `extensions.code` (and `field`, for validation errors). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

type Body<T> = { data?: T | null; errors?: { message: string; extensions?: { code?: string; field?: string } }[] };

/** The API as an admin token holder (`token`) or, without one, as the SSO session's cookie. */
export function makeApi(token: string | null) {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  async function request<R, V>(document: TadaDocumentNode<R, V>, variables?: V): Promise<R> {
    let response: Response;
    try {
      response = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        credentials: 'same-origin',
        body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
      });
    } catch {
      throw new ApiError('The gateway did not answer. Check that it is running.', 'NETWORK');
    }
    let body: Body<R>;
    try {
      body = await response.json();
    } catch {
      throw new ApiError(`The gateway answered ${response.status} without a GraphQL body.`, 'INTERNAL');
    }
    const error = body.errors?.[0];
    if (error) {
      throw new ApiError(error.message, error.extensions?.code ?? 'INTERNAL', error.extensions?.field);
    }
    if (!body.data) throw new ApiError('Empty answer from the gateway.', 'INTERNAL');
    return body.data;
  }

  let ws: Client | null = null;
  function subscribe<R>(document: TadaDocumentNode<R, Record<string, never>>, onNext: (data: R) => void, onError: (e: ApiError) => void): () => void {
    if (!ws) {
      const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/graphql`;
      // Without a token the upgrade request carries the session cookie.
      ws = createClient({ url, connectionParams: token ? { Authorization: `Bearer ${token}` } : {}, retryAttempts: Infinity });
    }
    return ws.subscribe<R>(
      { query: print(document) },
      {
        next: (result) => {
          const error = result.errors?.[0] as { message: string; extensions?: { code?: string } } | undefined;
          if (error) onError(new ApiError(error.message, error.extensions?.code ?? 'INTERNAL'));
          else if (result.data) onNext(result.data as R);
        },
        error: () => onError(new ApiError('The live connection dropped; retrying.', 'NETWORK')),
        complete: () => {},
      },
    );
  }

  return { request, subscribe, close: () => ws?.dispose() };
}

export type Api = ReturnType<typeof makeApi>;
