package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error is one problem in a config file, positioned for the printer's owner.
//
// Its text has the shape
//
//	moonrelay.toml:42: [notifier.phone] events: unknown event "completed"; did you mean "complete"?
//
// that is file:line, section, key and what is wrong. Parts that are unknown
// are left out: ":line" when Line is 0, the key when Key is empty, the
// section when Section is empty.
type Error struct {
	File    string // path of the file as given to Load or Parse
	Line    int    // 1-based line, 0 when the problem has no single line
	Section string // section name without brackets: "server", "notifier.phone"
	Key     string // key inside the section, "events[2]" for a list entry
	Msg     string // what is wrong and, where possible, what to write instead

	err error // underlying cause, such as fs.ErrNotExist
}

// Error formats the problem as file:line: [section] key: message.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	switch {
	case e.Section != "" && e.Key != "":
		fmt.Fprintf(&b, "[%s] %s: ", e.Section, e.Key)
	case e.Section != "":
		fmt.Fprintf(&b, "[%s]: ", e.Section)
	case e.Key != "":
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the cause of the problem, if any, so that
// errors.Is(err, fs.ErrNotExist) answers for a missing file.
func (e *Error) Unwrap() error { return e.err }

// Errors is every problem found in one pass over a config file. Load and
// Parse return it so the owner can fix the file at once instead of one
// problem per restart.
type Errors []*Error

// Error returns one problem per line, in the order of the slice (Load, Parse
// and Section.Decode sort it by line).
func (errs Errors) Error() string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.As finds an *Error.
func (errs Errors) Unwrap() []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return out
}

// sorted orders problems by file (the config file first, then the others in
// the order they were found) and then by line.
func (errs Errors) sorted() Errors {
	rank := map[string]int{}
	for _, e := range errs {
		if _, ok := rank[e.File]; !ok {
			rank[e.File] = len(rank)
		}
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if ra, rb := rank[a.File], rank[b.File]; ra != rb {
			return ra - rb
		}
		return a.Line - b.Line
	})
	return errs
}

// err returns errs as an error, or nil when there is none; it avoids the
// non-nil interface holding a nil slice.
func (errs Errors) err() error {
	if len(errs) == 0 {
		return nil
	}
	return errs.sorted()
}

// suggest returns the candidate closest to word, or "" when none is close
// enough to be a likely typo: at most two edits away (ignoring case and
// treating '-' as '_'), or word being part of the candidate.
func suggest(word string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	w := norm(word)
	best, bestDist := "", 3
	for _, c := range candidates {
		d := levenshtein(w, norm(c))
		if d < bestDist && d < len(w) {
			best, bestDist = c, d
		}
	}
	if best != "" {
		return best
	}
	if len(w) >= 4 {
		for _, c := range candidates {
			if strings.Contains(norm(c), w) {
				return c
			}
		}
	}
	return ""
}

// didYouMean returns `; did you mean "x"?` for the nearest candidate, or "".
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

// levenshtein is the edit distance between a and b, counted in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// describe names a decoded TOML value for a message: `text "abc"`,
// `the number 42`, `a list`. It never names a Go type.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return "text " + strconv.Quote(v)
	case int64:
		return "the number " + strconv.FormatInt(v, 10)
	case float64:
		return "the number " + strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	case time.Time:
		return "the date and time " + v.Format(time.RFC3339Nano)
	case nil:
		return "nothing"
	default:
		if s, ok := v.(fmt.Stringer); ok {
			// go-toml's local dates and times
			return "the date or time " + s.String()
		}
		return fmt.Sprint(v)
	}
}

// shortValue renders a value the way the owner wrote it: strings quoted,
// numbers bare. Used after "got" when the expected kind is already clear.
func shortValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case int64, float64, bool:
		return fmt.Sprint(v)
	default:
		return describe(v)
	}
}
