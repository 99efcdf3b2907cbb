import type { Me } from '../App';

const ROLE_LABEL: Record<Me['role'], string> = { ADMIN: 'Admin', REVIEWER: 'Reviewer', LABELER: 'Labeler' };

/** What a reviewer or labeler sees after SSO: who they are, their role and where it comes from. */
export function MemberPage({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const name = [me.givenName, me.familyName].filter(Boolean).join(' ');
  return (
    <main className="signin">
      <section className="card" aria-labelledby="member-title">
        <p className="eyebrow">{me.workspace.name}</p>
        <h1 id="member-title">Signed in{name ? ` as ${name}` : ''}</h1>
        <dl className="facts">
          <dt>User</dt>
          <dd data-testid="member-user">{me.userName}</dd>
          <dt>Workspace</dt>
          <dd>
            {me.workspace.name} <span className="muted">({me.workspace.slug})</span>
          </dd>
          <dt>Role</dt>
          <dd data-testid="member-role">
            {ROLE_LABEL[me.role]} <span className="muted">— {me.roleSource}</span>
          </dd>
        </dl>
        <p className="muted">
          Your role comes from your groups in your identity provider. The SAML &amp; SCIM settings are for the workspace's admins.
        </p>
        <button type="button" className="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </section>
    </main>
  );
}
