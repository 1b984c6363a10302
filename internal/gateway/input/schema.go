package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// refuseLoader loads nothing: a schema is one self-contained file. A
// remote or file $ref would make the gateway fetch URLs (SSRF) or read
// files an operator did not name, at load time; the JSON Schema
// meta-schemas are built into the library and need no loader.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("$ref to %s refused: a route's schema must be self-contained (use $defs)", url)
}

// compileSchema reads the schema file once and compiles it (draft 2020-12
// unless the file's $schema names another draft).
func compileSchema(path string) (*jsonschema.Schema, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator's configured schema file
	if err != nil {
		return nil, fmt.Errorf("json_schema: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSchemaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("json_schema: %w", err)
	}
	if len(data) > maxSchemaBytes {
		return nil, fmt.Errorf("json_schema %s: larger than %d bytes", path, maxSchemaBytes)
	}
	if err := strictJSON(data); err != nil {
		return nil, fmt.Errorf("json_schema %s: %w", path, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("json_schema %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	loc := "file://" + filepath.ToSlash(abs)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("json_schema %s: %w", path, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		var le *jsonschema.LoadURLError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("json_schema %s: %v", path, le.Err)
		}
		return nil, fmt.Errorf("json_schema %s: %w", path, err)
	}
	return sch, nil
}
