// Package ca is Rampart's internal certificate authority. Today it holds
// the local CA behind automatic TLS: Local loads the CA from a directory,
// or creates it there on first use with its private key sealed at rest,
// and AutoTLS serves short-lived server certificates issued by it, built
// on mtls.BaseConfig.
//
// The files in the directory (for <data_dir>/tls):
//
//	ca.pem          the CA certificate, PEM, mode 0644: what clients trust
//	ca.key.sealed   the CA private key, PKCS#8 sealed by a Sealer with the
//	                associated data "rampart/tls-ca/v1", mode 0600
//
// The directory is created with mode 0700. Package httpx does not import
// this one: the command wires the *tls.Config from AutoTLS into the
// listener.
package ca
