// Package oauth is Rampart's OAuth 2.1 / OpenID Connect authorization
// server: discovery, the authorization endpoint (code + PKCE S256 for every
// client), the token endpoint (authorization_code, client_credentials,
// refresh_token with rotation and reuse detection), revocation (RFC 7009),
// introspection (RFC 7662) and userinfo, issuing RFC 9068 JWT access tokens
// and OpenID Connect ID tokens.
package oauth
