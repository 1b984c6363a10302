// Package agent is `rampart agent`: it obtains an X509-SVID from the
// Rampart CA's enrolment API (with a one-time join token or OAuth client
// credentials), renews it over mTLS at half of its lifetime, writes it to a
// directory atomically and/or serves it on a unix socket for the mtls
// package, and keeps serving the current SVID through CA downtime until it
// expires.
//
// The agent holds one identity: its memory is one SVID, one key, one
// bundle and one CRL, whatever the size of the trust domain. The
// interfaces it implements (files, socket protocol, enrolment client) are
// those of docs/mtls.md ("The agent").
package agent
