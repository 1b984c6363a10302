package audit

// The action catalogue: every action Rampart records, in one place. An
// event's Action is always one of these constants, never a string typed at
// the call site (TestActionsComeFromTheCatalogue walks the source to hold
// that), so the evidence has a fixed vocabulary an operator can grep and
// alert on, and a renamed action is a change here, in review, not a silent
// drift between packages. docs/operations.md lists them for operators.
const (
	// Server lifecycle.
	ActionServerStart = "server.start"
	ActionServerStop  = "server.stop"

	// Sign-in and pages.
	ActionLogin  = "auth.login"  // a sign-in attempt (password, rate limit, lockout)
	ActionLogout = "auth.logout" // a session ended by the user
	ActionCSRF   = "web.csrf"    // a refused cross-site or tokenless form post

	// The authorization server.
	ActionAuthorize     = "oauth.authorize"      // an authorization request decided
	ActionConsent       = "oauth.consent"        // a consent given or refused
	ActionConsentRevoke = "oauth.consent_revoke" // a consent withdrawn by the user
	ActionToken         = "oauth.token"          // #nosec G101 -- an audit action name, not a credential: a token request (every grant)
	ActionCodeReplay    = "oauth.code_replay"    // an authorization code presented twice
	ActionRefresh       = "oauth.refresh"        // a refresh-token rotation
	ActionRefreshReuse  = "oauth.refresh_reuse"  // a rotated refresh token presented again
	ActionRevoke        = "oauth.revoke"         // an RFC 7009 revocation request
	ActionIntrospect    = "oauth.introspect"     // an RFC 7662 introspection request

	// Administration of clients and users.
	ActionClientCreate       = "client.create"
	ActionClientDelete       = "client.delete"
	ActionClientRotateSecret = "client.rotate_secret"
	ActionUserCreate         = "user.create"

	// Signing keys.
	ActionKeyGenerate = "key.generate"
	ActionKeyActivate = "key.activate"
	ActionKeyRetire   = "key.retire"
	ActionKeyRemove   = "key.remove"
	ActionKeyRotate   = "key.rotate"
	ActionKeyRevoke   = "key.revoke"

	// The master key.
	ActionMasterKeyRotate = "master_key.rotate"

	// The gateway.
	ActionGatewayDenied = "gateway.denied" // a request refused by a route's authentication or authorization
	ActionGatewayReload = "gateway.reload" // the route table replaced (or a new configuration refused)

	// Session lifecycle, password change and RP-initiated logout (issue 13, "life").
	ActionSessionEnd     = "session.end"          // sessions ended: by the user (account page), a password change, or an administrator
	ActionPasswordChange = "user.password_change" // a user changed their own password
	ActionUserAccessEnd  = "user.access_end"      // every session and refresh-token family of a user ended at once (EndUserAccess)
	ActionRPLogout       = "auth.rp_logout"       // an RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0)
)

// Actions returns the catalogue, in the order above.
func Actions() []string {
	return []string{
		ActionServerStart, ActionServerStop,
		ActionLogin, ActionLogout, ActionCSRF,
		ActionAuthorize, ActionConsent, ActionConsentRevoke, ActionToken, ActionCodeReplay,
		ActionRefresh, ActionRefreshReuse, ActionRevoke, ActionIntrospect,
		ActionClientCreate, ActionClientDelete, ActionClientRotateSecret, ActionUserCreate,
		ActionKeyGenerate, ActionKeyActivate, ActionKeyRetire, ActionKeyRemove, ActionKeyRotate, ActionKeyRevoke,
		ActionMasterKeyRotate,
		ActionGatewayDenied, ActionGatewayReload,
		// life
		ActionSessionEnd, ActionPasswordChange, ActionUserAccessEnd, ActionRPLogout,
	}
}
