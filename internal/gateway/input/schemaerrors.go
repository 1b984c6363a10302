package input

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

const (
	// maxFieldErrors is how many errors a 422 lists.
	maxFieldErrors = 50
	// maxCollected bounds the work of turning a validation error tree
	// into field errors; the count reported beyond it is a lower bound.
	maxCollected = 1000
	// maxDetailLen bounds one error's detail.
	maxDetailLen = 160
)

var printer = message.NewPrinter(language.English)

// fieldErrors flattens a validation error into one FieldError per leaf,
// sorted by pointer so the answer is the same for the same body, and
// returns at most maxFieldErrors of them with the total count.
func fieldErrors(err error) ([]FieldError, int) {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []FieldError{{Pointer: "", Detail: "does not match the schema"}}, 1
	}
	var out []FieldError
	collect(ve, &out)
	slices.SortStableFunc(out, func(a, b FieldError) int {
		return cmp.Or(strings.Compare(a.Pointer, b.Pointer), strings.Compare(a.Detail, b.Detail))
	})
	out = slices.Compact(out)
	total := len(out)
	if len(out) > maxFieldErrors {
		out = out[:maxFieldErrors:maxFieldErrors]
	}
	return out, total
}

func collect(ve *jsonschema.ValidationError, out *[]FieldError) {
	if len(*out) >= maxCollected {
		return
	}
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collect(c, out)
		}
		return
	}
	*out = append(*out, leafErrors(ve)...)
}

// leafErrors describes one leaf. Required and additionalProperties name
// the member itself, as a form would; the messages never quote the
// instance's values (a pattern or format error in the library's words
// repeats the whole string), and anything else is the library's message
// cut to maxDetailLen.
func leafErrors(ve *jsonschema.ValidationError) []FieldError {
	loc := ve.InstanceLocation
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		return memberErrors(loc, k.Missing, "is required")
	case *kind.AdditionalProperties:
		return memberErrors(loc, k.Properties, "is not allowed")
	case *kind.Type:
		return one(loc, fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got))
	case *kind.Pattern:
		return one(loc, "does not match the required pattern")
	case *kind.Format:
		return one(loc, "is not a valid "+k.Want)
	case *kind.Enum:
		return one(loc, "must be one of the allowed values")
	case *kind.Const:
		return one(loc, "must be the required value")
	case *kind.MinLength:
		return one(loc, "must be at least "+characters(k.Want)+" long")
	case *kind.MaxLength:
		return one(loc, "must be at most "+characters(k.Want)+" long")
	case *kind.FalseSchema:
		return one(loc, "is not allowed")
	case *kind.PropertyNames:
		return one(loc, "has a property name that is not allowed")
	}
	return one(loc, truncate(ve.ErrorKind.LocalizedString(printer), maxDetailLen))
}

func characters(n int) string {
	if n == 1 {
		return "1 character"
	}
	return fmt.Sprintf("%d characters", n)
}

func memberErrors(loc, names []string, detail string) []FieldError {
	out := make([]FieldError, 0, len(names))
	for _, n := range names {
		out = append(out, FieldError{Pointer: formatPointer(append(loc[:len(loc):len(loc)], n)), Detail: detail})
	}
	return out
}

func one(loc []string, detail string) []FieldError {
	return []FieldError{{Pointer: formatPointer(loc), Detail: detail}}
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
