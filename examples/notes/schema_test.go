package notes_test

import (
	"bytes"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/examples/notes"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileSchema compiles one of the shipped schemas with the library the
// gateway's json_schema rule uses, formats asserted.
func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return s
}

func schemaAccepts(t *testing.T, s *jsonschema.Schema, doc string) bool {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		return false // not JSON (or not one document): the gateway refuses it too
	}
	return s.Validate(v) == nil
}

// TestRegisterSchemaAgrees runs every registration case through
// schemas/register.json: the schema refuses what the service refuses for
// shape, and accepts what the service accepts, so the gateway in front
// never refuses a good registration nor lets through a malformed one the
// service would have to catch alone. (Duplicate keys reach the schema as
// one member, which is why the service checks them itself.)
func TestRegisterSchemaAgrees(t *testing.T) {
	s := compileSchema(t, "schemas/register.json")
	for _, c := range registrationCases {
		if got := schemaAccepts(t, s, c.body); got != c.schemaPasses {
			t.Errorf("%s: schema accepts = %v, want %v", c.name, got, c.schemaPasses)
		}
	}
}

func TestNoteSchema(t *testing.T) {
	s := compileSchema(t, "schemas/note.json")
	for doc, want := range map[string]bool{
		`{"title":"t","body":"<p>x</p>"}`:                           true,
		`{"title":"t"}`:                                             true,
		`{"title":"` + strings.Repeat("é", 200) + `"}`:              true,
		`{"body":"x"}`:                                              false,
		`{"title":""}`:                                              false,
		`{"title":"` + strings.Repeat("a", 201) + `"}`:              false,
		`{"title":"a\nb"}`:                                          false,
		`{"title":"a\u0085b"}`:                                      false,
		`{"title":"t","body":"a\u0000b"}`:                           false,
		`{"title":"t","body":"` + strings.Repeat("a", 32769) + `"}`: false,
		`{"title":"t","owner":"user-bob"}`:                          false,
		`{"Title":"t"}`:                                             false,
		`{"title":"t","body":5}`:                                    false,
	} {
		if got := schemaAccepts(t, s, doc); got != want {
			t.Errorf("%.60s: schema accepts = %v, want %v", doc, got, want)
		}
	}
}

// TestEmbeddedSchemas checks that the embedded copies are the shipped
// files, byte for byte.
func TestEmbeddedSchemas(t *testing.T) {
	for _, name := range []string{"schemas/register.json", "schemas/note.json"} {
		embedded, err := fs.ReadFile(notes.Schemas, name)
		if err != nil {
			t.Fatal(err)
		}
		onDisk, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(embedded, onDisk) {
			t.Fatalf("embedded %s differs from the file", name)
		}
	}
}
