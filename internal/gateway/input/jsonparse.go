package input

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits of the strict parser. maxDepth is the brief's nesting limit: a
// deeply nested document costs stack and time in every parser behind the
// gateway (OWASP Denial of Service Cheat Sheet). maxNumberLen and
// maxExponent bound number literals: the schema validator turns numbers
// into big.Rat, where a 1 MiB literal costs over two seconds of CPU
// (measured), and RFC 7493 §2.2 warns that numbers beyond IEEE 754 double
// precision do not interoperate anyway.
const (
	maxDepth     = 64
	maxNumberLen = 128
	maxExponent  = 400
)

// syntaxError is a body the strict parser refuses: a 400. msg is safe for
// the client (no input echoed), off the byte offset where it was found.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("input: %s at byte offset %d", e.msg, e.off) }

// hit is the value found at one sanitize pointer: its byte span in the
// document and, when it is a string, its decoded value.
type hit struct {
	ptr        int
	start, end int
	isString   bool
	str        string
}

// parser is a strict RFC 8259 parser. With build set it returns the
// document as encoding/json would with UseNumber (map[string]any, []any,
// string, json.Number, bool, nil), the form the schema validator takes;
// otherwise it only checks the document. ptrs are the sanitize pointers
// (at most 64, one bit each); the values they point at are recorded in
// hits with their spans, so that a sanitized string can be spliced into
// the original bytes.
type parser struct {
	data  []byte
	pos   int
	depth int
	build bool
	ptrs  []pointer
	hits  []hit
}

// parseDocument parses data as exactly one JSON value with optional
// surrounding whitespace.
func parseDocument(data []byte, build bool, ptrs []pointer) (any, []hit, error) {
	p := parser{data: data, build: build, ptrs: ptrs}
	var mask uint64
	if len(ptrs) > 0 {
		mask = (uint64(1) << len(ptrs)) - 1
	}
	p.skipSpace()
	v, err := p.value(mask)
	if err != nil {
		return nil, nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, nil, p.fail("unexpected data after the JSON value")
	}
	return v, p.hits, nil
}

func (p *parser) fail(msg string) error { return &syntaxError{msg: msg, off: p.pos} }

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value parses the value at p.pos; mask holds the pointers whose tokens
// all matched the path so far.
func (p *parser) value(mask uint64) (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.fail("unexpected end of JSON input")
	}
	start := p.pos
	var (
		v   any
		err error
	)
	switch c := p.data[p.pos]; {
	case c == '{':
		v, err = p.object(mask)
	case c == '[':
		v, err = p.array(mask)
	case c == '"':
		var s string
		s, err = p.str()
		v = s
	case c == '-' || (c >= '0' && c <= '9'):
		v, err = p.number()
	default:
		v, err = p.literal()
	}
	if err != nil {
		return nil, err
	}
	if mask != 0 {
		p.record(mask, start, v)
	}
	return v, nil
}

// record notes the value for every pointer that ends at this depth.
func (p *parser) record(mask uint64, start int, v any) {
	for i := range p.ptrs {
		if mask&(1<<i) == 0 || len(p.ptrs[i].tokens) != p.depth {
			continue
		}
		h := hit{ptr: i, start: start, end: p.pos}
		h.str, h.isString = v.(string)
		p.hits = append(p.hits, h)
	}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail("JSON nested too deeply")
	}
	return nil
}

func (p *parser) object(mask uint64) (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '{'
	obj := map[string]any{}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return p.built(obj), nil
	}
	for {
		if err := p.member(obj, mask); err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.fail("unexpected end of JSON input")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case '}':
			p.pos++
			p.depth--
			return p.built(obj), nil
		default:
			return nil, p.fail("expected ',' or '}' in object")
		}
	}
}

// built hides the map when the caller asked for no document.
func (p *parser) built(obj map[string]any) any {
	if !p.build {
		return nil
	}
	return obj
}

// member parses `"key": value` into obj. Duplicate keys are refused, after
// unescaping ("a" and "\u0061" are the same key): RFC 8259 §4 leaves their
// meaning to each implementation (first wins, last wins, error), which is a
// schema bypass when the gateway and the service pick differently.
func (p *parser) member(obj map[string]any, mask uint64) error {
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return p.fail("expected a string object key")
	}
	keyAt := p.pos
	key, err := p.str()
	if err != nil {
		return err
	}
	if _, dup := obj[key]; dup {
		return &syntaxError{msg: "duplicate object key", off: keyAt}
	}
	p.skipSpace()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return p.fail("expected ':' after object key")
	}
	p.pos++
	p.skipSpace()
	v, err := p.value(p.childMask(mask, key, -1))
	if err != nil {
		return err
	}
	obj[key] = v // with build unset v is nil: the map is then only a key set.
	return nil
}

func (p *parser) array(mask uint64) (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '['
	var arr []any
	if p.build {
		arr = []any{}
	}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return p.builtArr(arr), nil
	}
	for i := 0; ; i++ {
		v, err := p.value(p.childMask(mask, "", i))
		if err != nil {
			return nil, err
		}
		if p.build {
			arr = append(arr, v)
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.fail("unexpected end of JSON input")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case ']':
			p.pos++
			p.depth--
			return p.builtArr(arr), nil
		default:
			return nil, p.fail("expected ',' or ']' in array")
		}
	}
}

func (p *parser) builtArr(arr []any) any {
	if !p.build {
		return nil
	}
	return arr
}

// childMask keeps the pointers of mask that continue into a child: the
// member key of an object (index < 0) or the element index of an array.
// p.depth is the depth of the container, so the child's token is
// tokens[p.depth-1].
func (p *parser) childMask(mask uint64, key string, index int) uint64 {
	if mask == 0 {
		return 0
	}
	var out uint64
	for i := range p.ptrs {
		toks := p.ptrs[i].tokens
		if mask&(1<<i) == 0 || len(toks) < p.depth {
			continue
		}
		t := &toks[p.depth-1]
		if (index < 0 && t.name == key) || (index >= 0 && t.index == index) {
			out |= 1 << i
		}
	}
	return out
}

func (p *parser) literal() (any, error) {
	rest := p.data[p.pos:]
	for _, lit := range [...]struct {
		text string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if len(rest) >= len(lit.text) && string(rest[:len(lit.text)]) == lit.text {
			p.pos += len(lit.text)
			return lit.v, nil
		}
	}
	return nil, p.fail("invalid JSON value")
}

// number checks the RFC 8259 §6 grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and keeps the literal
// as it was written (json.Number), so that no precision is lost.
func (p *parser) number() (any, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	switch c := p.peek(); {
	case c == '0':
		p.pos++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return nil, p.fail("invalid number")
	}
	if p.peek() == '.' {
		p.pos++
		if p.digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		if err := p.exponent(); err != nil {
			return nil, err
		}
	}
	if p.pos-start > maxNumberLen {
		return nil, &syntaxError{msg: "number literal too long", off: start}
	}
	if !p.build {
		return nil, nil
	}
	return json.Number(p.data[start:p.pos]), nil
}

func (p *parser) exponent() error {
	p.pos++
	if c := p.peek(); c == '+' || c == '-' {
		p.pos++
	}
	at := p.pos
	if p.digits() == 0 {
		return p.fail("invalid number")
	}
	digits := p.data[at:p.pos]
	if len(digits) > 6 {
		return &syntaxError{msg: "number exponent too large", off: at}
	}
	if e, _ := strconv.Atoi(string(digits)); e > maxExponent {
		return &syntaxError{msg: "number exponent too large", off: at}
	}
	return nil
}

func (p *parser) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *parser) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

// str parses a string at p.pos (the opening quote). The fast path is a
// run without escapes; both paths refuse unescaped control characters and
// invalid UTF-8 (RFC 8259 §7, §8.1).
func (p *parser) str() (string, error) {
	p.pos++ // '"'
	start := p.pos
	ascii := true
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			run := p.data[start:p.pos]
			if !ascii && !utf8.Valid(run) {
				return "", &syntaxError{msg: "invalid UTF-8 in string", off: start}
			}
			p.pos++
			return string(run), nil
		case c == '\\':
			return p.strSlow(start)
		case c < 0x20:
			return "", p.fail("control character in string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.pos++
	}
	return "", p.fail("unterminated string")
}

// strSlow finishes a string that has escapes, from its first byte.
func (p *parser) strSlow(start int) (string, error) {
	p.pos = start
	buf := make([]byte, 0, 64)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c == '\\':
			var err error
			if buf, err = p.escape(buf); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", p.fail("control character in string")
		case c < utf8.RuneSelf:
			run := p.pos + 1 // copy a run of plain ASCII at once
			for run < len(p.data) && plainASCII(p.data[run]) {
				run++
			}
			buf = append(buf, p.data[p.pos:run]...)
			p.pos = run
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.fail("invalid UTF-8 in string")
			}
			buf = append(buf, p.data[p.pos:p.pos+size]...)
			p.pos += size
		}
	}
	return "", p.fail("unterminated string")
}

var simpleEscapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escape decodes the escape at p.pos (the backslash) onto buf. A \u
// escape of a lone surrogate is refused rather than replaced by U+FFFD as
// encoding/json does: parsers disagree on it (RFC 8259 §8.2; RFC 7493
// §2.1 forbids it).
func (p *parser) escape(buf []byte) ([]byte, error) {
	if p.pos+1 >= len(p.data) {
		return nil, p.fail("unterminated string")
	}
	c := p.data[p.pos+1]
	if c != 'u' {
		if simpleEscapes[c] == 0 {
			return nil, p.fail("invalid escape in string")
		}
		p.pos += 2
		return append(buf, simpleEscapes[c]), nil
	}
	r, ok := p.hex4(p.pos + 2)
	if !ok {
		return nil, p.fail("invalid \\u escape in string")
	}
	p.pos += 6
	if utf16.IsSurrogate(r) {
		lo, ok := p.lowSurrogate(r)
		if !ok {
			return nil, p.fail("lone surrogate in string")
		}
		r = lo
	}
	return utf8.AppendRune(buf, r), nil
}

// lowSurrogate reads the \uDC00–\uDFFF escape that must follow the high
// surrogate hi and returns the combined rune.
func (p *parser) lowSurrogate(hi rune) (rune, bool) {
	if hi >= 0xDC00 || p.pos+1 >= len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
		return 0, false
	}
	lo, ok := p.hex4(p.pos + 2)
	if !ok || lo < 0xDC00 || lo > 0xDFFF {
		return 0, false
	}
	p.pos += 6
	return utf16.DecodeRune(hi, lo), true
}

func (p *parser) hex4(at int) (rune, bool) {
	if at+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[at : at+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// plainASCII is a string byte that needs no decoding.
func plainASCII(c byte) bool { return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' }
