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
	ActionRefresh       = "oauth.refresh"        // a refresh: rotation, or (fapi2) kept with details rotated=false
	ActionRefreshReuse  = "oauth.refresh_reuse"  // a rotated refresh token presented again
	ActionRevoke        = "oauth.revoke"         // an RFC 7009 revocation request
	ActionIntrospect    = "oauth.introspect"     // an RFC 7662 introspection request

	// Administration of clients and users.
	ActionClientCreate       = "client.create"
	ActionClientDelete       = "client.delete"
	ActionClientRotateSecret = "client.rotate_secret"
	ActionClientRetireSecret = "client.retire_secret" // a rotated-out secret's overlap ended early
	ActionUserCreate         = "user.create"
	ActionUserDisable        = "user.disable"      // a user disabled: sessions ended, refresh tokens revoked, access tokens denied
	ActionUserEnable         = "user.enable"       // a disabled user enabled again
	ActionUserSessionsEnd    = "user.sessions_end" // every session of a user ended by an administrator
	ActionUserRoleChange     = "user.role_change"  // a user's role changed (their sessions end)

	// The admin API: every call, whatever its outcome (the use case it
	// runs records its own event as well).
	ActionAdminRequest = "admin.request"

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

	// DPoP issuing (RFC 9449) at the token endpoint.
	ActionDPoPProof = "oauth.dpop_proof" // a token request's DPoP proof refused (invalid, replayed, another key, or missing for require_dpop)
	// parjwt: pushed authorization requests (RFC 9126).
	ActionPAR       = "oauth.par"        // a pushed authorization request stored or refused
	ActionPARReplay = "oauth.par_replay" // a request_uri presented after its code was issued, or another client's
	// The device authorization grant (RFC 8628).
	ActionDeviceAuthorize = "oauth.device_authorize" // a device authorization request (codes given out or refused)
	ActionDeviceVerify    = "oauth.device_verify"    // a user code entered on the device page (wrong codes and rate limits included)
	ActionDeviceDecision  = "oauth.device_decision"  // a user allowed or denied a device request
	// TOTP two-step sign-in (issue 13, MFA).
	ActionMFAEnroll       = "mfa.enroll"        // TOTP set up (confirmed with a first code) or a set-up refused
	ActionMFADisable      = "mfa.disable"       // TOTP removed by its user (with a current code) or refused
	ActionMFAVerify       = "mfa.verify"        // a second-factor attempt at sign-in or step-up (success, failure, lockout)
	ActionMFARecoveryUsed = "mfa.recovery_used" // a recovery code spent instead of a TOTP code
	// Session lifecycle, password change and RP-initiated logout (issue 13, "life").
	ActionSessionEnd     = "session.end"          // sessions ended: by the user (account page), a password change, or an administrator
	ActionPasswordChange = "user.password_change" // a user changed their own password
	ActionUserAccessEnd  = "user.access_end"      // every session and refresh-token family of a user ended at once (EndUserAccess)
	ActionRPLogout       = "auth.rp_logout"       // an RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0)
	// Admin password reset and client disabling (issue 13, "lifecycle2").
	ActionPasswordReset = "user.password_reset" // an administrator set a user's password (must change at next sign-in); their access ended
	ActionClientDisable = "client.disable"      // a stored client disabled: its refresh tokens revoked, access tokens denied, pending codes gone
	ActionClientEnable  = "client.enable"       // a disabled stored client enabled again (its old tokens stay revoked)
	// The internal CA and service mTLS (issue 14).
	ActionCAInit       = "ca.init"       // the CA hierarchy created (root generated or imported, first intermediate)
	ActionCARotate     = "ca.rotate"     // a new intermediate published (signs once its activation time passes)
	ActionCARegister   = "ca.register"   // a registration created or replaced (identity to SPIFFE ID); clears a revoked ID
	ActionCAUnregister = "ca.unregister" // a registration deleted
	ActionCAJoinToken  = "ca.join_token" // #nosec G101 -- an audit action name, not a credential: a one-time join token created
	ActionCASVIDIssue  = "ca.svid_issue" // an SVID issued (join token, client credentials, admin) or the request refused
	ActionCASVIDRenew  = "ca.svid_renew" // an SVID renewed over mTLS with the current SVID, or the renewal refused
	ActionCARevoke     = "ca.revoke"     // SVIDs revoked by serial or by SPIFFE ID
	// The secrets manager (issue 15). Every event names the path, the
	// version and an HMAC of the value (never the value itself).
	ActionSecretRead     = "secret.read"     // a secret version read (or the read refused: policy, not found, deleted)
	ActionSecretWrite    = "secret.write"    // a new version written (check-and-set included) or the write refused
	ActionSecretList     = "secret.list"     // paths listed under a prefix
	ActionSecretLabel    = "secret.label"    // a label moved to a version (check-and-set), or the move refused
	ActionSecretDelete   = "secret.delete"   // versions soft-deleted (their ciphertext kept, undeletable)
	ActionSecretUndelete = "secret.undelete" // soft-deleted versions restored
	ActionSecretDestroy  = "secret.destroy"  // versions destroyed (ciphertext and data key erased), by request or by the keep-N limit
	ActionSecretRotate   = "secret.rotate"   // a rotation step (create, set, test, finish) done, resumed or failed; details carry the step and reason
	ActionSecretLease    = "secret.lease"    // a dynamic credential lease created, renewed, revoked or reaped; details carry the operation
)

// Actions returns the catalogue, in the order above.
func Actions() []string {
	return []string{
		ActionServerStart, ActionServerStop,
		ActionLogin, ActionLogout, ActionCSRF,
		ActionAuthorize, ActionConsent, ActionConsentRevoke, ActionToken, ActionCodeReplay,
		ActionRefresh, ActionRefreshReuse, ActionRevoke, ActionIntrospect,
		ActionClientCreate, ActionClientDelete, ActionClientRotateSecret, ActionClientRetireSecret, ActionUserCreate,
		ActionUserDisable, ActionUserEnable, ActionUserSessionsEnd, ActionUserRoleChange, ActionAdminRequest,
		ActionKeyGenerate, ActionKeyActivate, ActionKeyRetire, ActionKeyRemove, ActionKeyRotate, ActionKeyRevoke,
		ActionMasterKeyRotate,
		ActionGatewayDenied, ActionGatewayReload,
		ActionDPoPProof,
		ActionPAR, ActionPARReplay,
		ActionDeviceAuthorize, ActionDeviceVerify, ActionDeviceDecision,
		ActionMFAEnroll, ActionMFADisable, ActionMFAVerify, ActionMFARecoveryUsed,
		// life
		ActionSessionEnd, ActionPasswordChange, ActionUserAccessEnd, ActionRPLogout,
		// lifecycle2
		ActionPasswordReset, ActionClientDisable, ActionClientEnable,
		// ca (issue 14)
		ActionCAInit, ActionCARotate, ActionCARegister, ActionCAUnregister, ActionCAJoinToken,
		ActionCASVIDIssue, ActionCASVIDRenew, ActionCARevoke,
		// secrets (issue 15)
		ActionSecretRead, ActionSecretWrite, ActionSecretList, ActionSecretLabel,
		ActionSecretDelete, ActionSecretUndelete, ActionSecretDestroy, ActionSecretRotate, ActionSecretLease,
	}
}
