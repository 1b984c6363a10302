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

	// TOTP two-step sign-in (issue 13, MFA).
	ActionMFAEnroll       = "mfa.enroll"        // TOTP set up (confirmed with a first code) or a set-up refused
	ActionMFADisable      = "mfa.disable"       // TOTP removed by its user (with a current code) or refused
	ActionMFAVerify       = "mfa.verify"        // a second-factor attempt at sign-in or step-up (success, failure, lockout)
	ActionMFARecoveryUsed = "mfa.recovery_used" // a recovery code spent instead of a TOTP code
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
		ActionMFAEnroll, ActionMFADisable, ActionMFAVerify, ActionMFARecoveryUsed,
	}
}
