// Package ca is Rampart's internal certificate authority for the SPIFFE
// trust domain of ca.trust_domain (docs/mtls.md): a root and online
// intermediates whose keys are sealed with the master key in the store,
// X.509-SVIDs issued to workloads (join tokens, OAuth clients, renewal),
// revocation with a CRL signed by the root, the trust bundle, and the
// in-memory server certificates of auto-TLS and the enrolment listener
// (ServerCertSource). Package caapi serves it over HTTP; the command
// wires both.
package ca
