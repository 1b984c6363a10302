package input

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// maxSchemaBytes bounds the schema file read at load time.
const maxSchemaBytes = 4 << 20

// errRefRefused is the loader's answer to every URL.
var errRefRefused = errors.New("only the schema file itself is read: remote (http, https) and file $ref loading is disabled")

// refuseLoader is the schema compiler's URL loader: it loads nothing. The
// schema file is read by compileSchema and added as the only resource; the
// draft meta-schemas are embedded in the library and never reach the
// loader. So a $ref or $schema naming http://…, file:///etc/passwd or a
// sibling file cannot make the gateway fetch or read anything at load
// time (SSRF and local file disclosure through schema references; OWASP
// SSRF Prevention Cheat Sheet).
type refuseLoader struct{}

func (refuseLoader) Load(string) (any, error) { return nil, errRefRefused }

var _ jsonschema.URLLoader = refuseLoader{}

// compileSchema reads and compiles the schema at path. The file is parsed
// by the same strict parser as bodies, so a schema with duplicate keys
// (whose meaning would depend on the parser) is refused too. Drafts:
// 2020-12 unless the schema's $schema names another known draft.
// Format assertions are on: "format": "email" is a check, as a user
// writing it expects, not the annotation 2020-12 makes it by default.
// Patterns are Go regexps (RE2): linear time, so no ReDoS.
func compileSchema(path string) (*jsonschema.Schema, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("input: json_schema %s: %w", path, err)
	}
	doc, err := readSchemaDoc(abs)
	if err != nil {
		return nil, fmt.Errorf("input: json_schema %s: %w", path, err)
	}
	loc := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("input: json_schema %s: %w", path, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("input: json_schema %s does not compile: %w", path, err)
	}
	return sch, nil
}

func readSchemaDoc(abs string) (any, error) {
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if fi.Size() > maxSchemaBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxSchemaBytes)
	}
	data, err := os.ReadFile(abs) // #nosec G304 -- the operator's configured schema file, read once at load.
	if err != nil {
		return nil, err
	}
	doc, _, err := parseDocument(data, true, nil)
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return doc, nil
}
