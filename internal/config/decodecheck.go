package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxProblems bounds one report: the wrong file fed as a config (a log, a
// Kubernetes manifest) gets its first problems and a count, not megabytes.
const maxProblems = 50

// checker walks the YAML tree beside the Go type of Config and collects
// every problem with its line and dotted key path. yaml's own decoder
// stops at the first error a field's unmarshaler returns, and names
// neither key nor line for it; the walk is what lets Decode keep the
// reference's promise that every problem is listed.
type checker struct {
	problems []error
	more     int
}

// add records one problem. path may be empty (the top level).
func (c *checker) add(line int, path, format string, args ...any) {
	if len(c.problems) >= maxProblems {
		c.more++
		return
	}
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	c.problems = append(c.problems, fmt.Errorf("config: line %d: %s", line, msg))
}

// errs returns the problems, with a count of those left out.
func (c *checker) errs() []error {
	if c.more > 0 {
		return append(c.problems, fmt.Errorf("config: and %d more problems not listed; is it the right file?", c.more))
	}
	return c.problems
}

var (
	durationType  = reflect.TypeFor[Duration]()
	routeAuthType = reflect.TypeFor[RouteAuth]()
	jwkSetType    = reflect.TypeFor[JWKSet]()
)

// check verifies that n can be decoded into a value of type t, recursing
// into mappings and lists, and records what cannot.
func (c *checker) check(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		c.add(n.Line, path, "YAML aliases are not supported; write the value out")
		return
	}
	if t == routeAuthType {
		c.checkRouteAuth(n, path) // before the null case: an empty auth is not "unset"
		return
	}
	if isNull(n) {
		return // an empty value leaves the field unset: Defaults fills it
	}
	switch {
	case t == jwkSetType:
		if _, err := jwkSetJSON(n); err != nil {
			c.add(n.Line, path, "%s", err)
		}
	case t == durationType:
		if _, err := parseDurationNode(n); err != nil {
			c.add(n.Line, path, "%s", err)
		}
	case isTextUnmarshaler(t):
		if n.Kind != yaml.ScalarNode {
			c.add(n.Line, path, "must be a single value, not %s", kindName(n))
			return
		}
		v := reflect.New(t).Interface().(interface{ UnmarshalText([]byte) error })
		if err := v.UnmarshalText([]byte(n.Value)); err != nil {
			c.add(n.Line, path, "%s", err)
		}
	case t.Kind() == reflect.Struct:
		c.checkStruct(n, t, path)
	case t.Kind() == reflect.Map:
		c.checkMap(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.add(n.Line, path, "must be a list (like [a, b] or lines starting with '- '), not %s", kindName(n))
			return
		}
		for _, item := range n.Content {
			if isNull(item) {
				c.add(item.Line, path, "a list item is empty; remove it or give it a value")
				continue
			}
			c.check(item, t.Elem(), path+"[]")
		}
	default:
		c.checkScalar(n, t, path)
	}
}

// checkStruct checks a mapping against the fields of struct t: unknown
// keys (listing the valid ones), duplicate keys and each value.
func (c *checker) checkStruct(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	c.eachKey(n, path, func(k, v *yaml.Node, key string) {
		ft, ok := fields[k.Value]
		if !ok {
			c.add(k.Line, "", "unknown key %q; valid keys%s are: %s",
				key, where(path), strings.Join(sortedKeys(fields), ", "))
			return
		}
		c.check(v, ft, key)
	})
}

// checkRouteAuth checks a route's auth: the literal `none` or a mapping
// of the RouteAuth keys. Anything else, `auth: ~` included, is refused
// here with the key's line rather than read as "no rule" (deny by default,
// DESIGN principle 3).
func (c *checker) checkRouteAuth(n *yaml.Node, path string) {
	switch {
	case isAuthNone(n):
	case n.Kind == yaml.MappingNode:
		c.checkStruct(n, routeAuthType, path)
	case n.Kind == yaml.ScalarNode && !isNull(n) && strings.EqualFold(n.Value, AuthNone):
		c.add(n.Line, path, "%s; write none in lowercase", authShapeHint(n))
	default:
		c.add(n.Line, path, "%s", authShapeHint(n))
	}
}

// checkMap checks a mapping with free keys (map[string]T).
func (c *checker) checkMap(n *yaml.Node, t reflect.Type, path string) {
	c.eachKey(n, path, func(k, v *yaml.Node, key string) {
		c.check(k, t.Key(), key)
		c.check(v, t.Elem(), key)
	})
}

// eachKey calls fn for every entry of mapping n whose key is a plain word
// seen for the first time, and reports what is not: a node that is not a
// mapping, a key that is not a scalar, a key set twice.
func (c *checker) eachKey(n *yaml.Node, path string, fn func(k, v *yaml.Node, key string)) {
	if n.Kind != yaml.MappingNode {
		c.add(n.Line, path, "must be a mapping of keys, not %s", kindName(n))
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.add(k.Line, path, "keys must be plain words")
			continue
		}
		key := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			c.add(k.Line, "", "%q is set twice (first on line %d); keep one", key, first)
			continue
		}
		seen[k.Value] = k.Line
		fn(k, v, key)
	}
}

// checkScalar checks a plain value: strings take any scalar, booleans only
// true/false, numbers only whole numbers that fit the field.
func (c *checker) checkScalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		c.add(n.Line, path, "must be a single value, not %s", kindName(n))
		return
	}
	switch t.Kind() {
	case reflect.String:
		return // YAML writes any scalar as a string where one is expected
	case reflect.Bool:
		if n.Tag != "!!bool" {
			c.add(n.Line, path, "must be true or false, not %q", n.Value)
		}
		return
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// yaml would truncate 1.5 into an int; a count is written whole.
		if n.Tag != "!!int" {
			c.add(n.Line, path, "must be a whole number, not %q", n.Value)
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			c.add(n.Line, path, "%s is too large a number here", n.Value)
		}
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		c.add(n.Line, path, "%s", cleanYAMLError(err))
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }
