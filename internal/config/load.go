package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize caps the configuration file; a larger file is refused rather
// than read into memory.
const MaxFileSize = 1 << 20

// Load reads, strictly decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) { return LoadWith(path, false) }

// LoadWith is Load with the dev flag set before defaults are applied
// (`rampart serve --dev --config FILE`).
func LoadWith(path string, dev bool) (*Config, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the config file on the command line.
	if err != nil {
		return nil, fmt.Errorf("config: cannot open %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: cannot read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config: %s is larger than %d bytes; is it the right file?", path, MaxFileSize)
	}
	cfg, err := Decode(data)
	if err == nil {
		cfg.Dev = dev
		cfg.File = path
		cfg.Defaults()
		err = cfg.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Dev returns the configuration `rampart serve` uses without a config file:
// loopback, plain HTTP, ./rampart-data, SQLite, in-process limits.
func Dev() *Config {
	c := &Config{Dev: true}
	c.Defaults()
	return c
}

// Parse strictly decodes data, applies Defaults and runs Validate.
func Parse(data []byte) (*Config, error) {
	cfg, err := Decode(data)
	if err != nil {
		return nil, err
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Decode strictly decodes data without defaults or validation. It reports
// every problem it finds, not only the first, each with its line and dotted
// key path: unknown keys (with the keys valid there), duplicate keys, wrong
// types (a list where a mapping belongs, a word where a number belongs, a
// bare number where a duration belongs), aliases and more than one YAML
// document. The problems are joined with errors.Join, one per line.
func Decode(data []byte) (*Config, error) {
	var cfg Config
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return &cfg, nil // an empty file is an all-defaults config
		}
		return nil, fmt.Errorf("config: %s", cleanYAMLError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config: the file holds more than one YAML document (a second '---'); keep one")
	}
	if len(root.Content) == 0 {
		return &cfg, nil
	}
	doc := root.Content[0]
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return &cfg, nil
	}
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: line %d: the top level must be a mapping of keys (issuer:, http:, ...)", doc.Line)
	}
	var c checker
	c.check(doc, reflect.TypeOf(cfg), "")
	if len(c.problems) > 0 {
		return nil, errors.Join(c.errs()...)
	}
	// The walk above has checked every node against its field, so this
	// decode is expected to succeed; it stays strict in case it does not.
	if err := doc.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("config: %s", cleanYAMLError(err))
	}
	return &cfg, nil
}
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func isTextUnmarshaler(t reflect.Type) bool {
	type textUnmarshaler interface{ UnmarshalText([]byte) error }
	return reflect.PointerTo(t).Implements(reflect.TypeFor[textUnmarshaler]())
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func where(path string) string {
	if path == "" {
		return " at the top level"
	}
	return " under " + path
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	default:
		return "this"
	}
}

// cleanYAMLError turns yaml's messages into one line without Go type names.
func cleanYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	msg = strings.ReplaceAll(msg, "\n", "; ")
	msg = strings.Join(strings.Fields(msg), " ")
	for _, r := range [][2]string{
		{"into config.Duration", "into a duration"},
		{"into int64", "into a whole number"},
		{"into int", "into a whole number"},
		{"into string", "into a string"},
		{"into bool", "into true/false"},
	} {
		msg = strings.ReplaceAll(msg, r[0], r[1])
	}
	return msg
}
