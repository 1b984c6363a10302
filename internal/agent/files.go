package agent

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-auth/rampart/internal/fsx"
	"github.com/rampart-auth/rampart/mtls"
)

// The files of --out (contract.md, "Agent files and socket").
const (
	fileSVID   = "svid.pem"
	fileKey    = "svid.key"
	fileBundle = "bundle.pem"
	fileCRL    = "crl.pem"
)

// Modes: the key is readable by the agent's user only; the certificates,
// bundle and CRL are public material. The directory is 0700 so that only
// the agent's user can replace a file in it.
const (
	modeDir    fs.FileMode = 0o700
	modeKey    fs.FileMode = 0o600
	modePublic fs.FileMode = 0o644
)

// maxFileBytes bounds what the agent reads back from its own files.
const maxFileBytes = 1 << 20

// prepareOutDir creates dir with mode 0700 when it is missing and refuses
// one that group or others may write: whoever can write the directory can
// swap the files a service trusts.
func prepareOutDir(dir string) error {
	if err := os.MkdirAll(dir, modeDir); err != nil {
		return fmt.Errorf("agent: --out %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("agent: --out %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("agent: --out %s is not a directory", dir)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("agent: --out %s is writable by group or others (mode %#o); chmod 700 it", dir, st.Mode().Perm())
	}
	return nil
}

// writeAtomic replaces dir/name with data and mode, atomically and
// durably (fsx.WriteFileAtomic): a reader sees the old or the new
// content, never a part, and a crash leaves one of them.
func writeAtomic(dir, name string, data []byte, mode fs.FileMode) error {
	if err := fsx.WriteFileAtomic(filepath.Join(dir, name), data, mode); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}

// writeSVIDFiles writes every file of s in the contract's order: svid.key,
// then svid.pem, then bundle.pem and crl.pem. A reader that sees the new
// key beside the old certificate finds they do not match and keeps its
// previous pair until the certificate follows.
func writeSVIDFiles(dir string, s *svid) error {
	if err := writeAtomic(dir, fileKey, s.keyPEM, modeKey); err != nil {
		return err
	}
	if err := writeAtomic(dir, fileSVID, s.chainPEM, modePublic); err != nil {
		return err
	}
	return writeTrustFiles(dir, s)
}

// writeTrustFiles writes bundle.pem and crl.pem (the CRL when there is one).
func writeTrustFiles(dir string, s *svid) error {
	if err := writeAtomic(dir, fileBundle, s.bundlePEM, modePublic); err != nil {
		return err
	}
	if s.crl == nil {
		return nil
	}
	return writeAtomic(dir, fileCRL, s.crlPEM, modePublic)
}

// errNoSVID says the out directory holds no SVID at all.
var errNoSVID = errors.New("agent: no SVID in the out directory")

// loadSVIDFiles reads the SVID the agent wrote to dir before: the chain,
// its key and the bundle, which must verify together and be valid at now.
// The CRL is read when present and valid; a missing one is fetched later.
// errNoSVID means none of the three files exists.
func loadSVIDFiles(dir string, now time.Time) (*svid, error) {
	chainPEM, err1 := readSmall(filepath.Join(dir, fileSVID))
	keyPEM, err2 := readSmall(filepath.Join(dir, fileKey))
	bundlePEM, err3 := readSmall(filepath.Join(dir, fileBundle))
	if errors.Is(err1, fs.ErrNotExist) && errors.Is(err2, fs.ErrNotExist) && errors.Is(err3, fs.ErrNotExist) {
		return nil, errNoSVID
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("agent: the SVID in %s: %w", dir, err)
	}
	chain, err := parseCertsPEM(chainPEM, maxChainCerts)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", fileSVID, err)
	}
	bundle, err := parseCertsPEM(bundlePEM, maxBundleCerts)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", fileBundle, err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", fileKey, err)
	}
	if !publicKeysEqual(chain[0].PublicKey, key.Public()) {
		return nil, fmt.Errorf("agent: %s does not match %s", fileKey, fileSVID)
	}
	id, err := mtls.IDFromCert(chain[0])
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", fileSVID, err)
	}
	td, err := bundleTD(bundle)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", fileBundle, err)
	}
	if !id.MemberOf(td) {
		return nil, fmt.Errorf("agent: %s names %s, not of the bundle's trust domain %s", fileSVID, id, td)
	}
	if err := verifyChain(chain, bundle, now); err != nil {
		return nil, fmt.Errorf("agent: %s: %w", fileSVID, err)
	}
	raw := make([][]byte, len(chain))
	for i, c := range chain {
		raw[i] = c.Raw
	}
	s := &svid{id: id, td: td,
		cert:     &tls.Certificate{Certificate: raw, PrivateKey: key, Leaf: chain[0]},
		chainPEM: encodeCerts(chain), keyPEM: keyPEM,
		bundle: bundle, bundlePEM: encodeCerts(bundle), start: chain[0].NotBefore}
	if crlPEM, err := readSmall(filepath.Join(dir, fileCRL)); err == nil {
		if crl, err := parseCRLPEM(crlPEM); err == nil && checkCRL(crl, bundle, now) == nil {
			s = s.withCRL(crl)
		}
	}
	return s, nil
}

// parseKeyPEM parses one PEM "PRIVATE KEY" (PKCS#8) block holding a
// signing key.
func parseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM PRIVATE KEY (PKCS#8)")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("the key cannot sign")
	}
	return s, nil
}

// readSmall reads a file of at most maxFileBytes.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- a file of the operator's --out directory.
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if n > maxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileBytes)
	}
	return buf.Bytes(), nil
}
