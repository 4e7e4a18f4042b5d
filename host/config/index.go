package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyPath is the position of a value inside the document: table and key names,
// with list positions as ints. It is rendered for owners as "headers.Authorization"
// or "events[2]".
type keyPath []any

// child returns a new path with elem appended; the receiver is never shared.
func (p keyPath) child(elem any) keyPath {
	out := make(keyPath, len(p), len(p)+1)
	copy(out, p)
	return append(out, elem)
}

// id is the map key of the path in a lineIndex. Names and list positions are
// tagged so that a key literally named "[0]" cannot collide with a position.
func (p keyPath) id() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case string:
			b.WriteByte(0)
			b.WriteString(e)
		case int:
			b.WriteByte(1)
			b.WriteString(strconv.Itoa(e))
		}
	}
	return b.String()
}

// String renders the path the way an owner would write it: a.b[2].c.
func (p keyPath) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// parseKeyPath is the inverse of String for keys without dots or brackets in
// their names, which is all that Section.Errorf callers pass.
func parseKeyPath(s string) keyPath {
	var p keyPath
	for part := range strings.SplitSeq(s, ".") {
		name := part
		var idx []int
		for strings.HasSuffix(name, "]") {
			open := strings.LastIndexByte(name, '[')
			if open < 0 {
				break
			}
			n, err := strconv.Atoi(name[open+1 : len(name)-1])
			if err != nil || n < 0 {
				break
			}
			idx = append([]int{n}, idx...)
			name = name[:open]
		}
		if name != "" {
			p = append(p, name)
		}
		for _, n := range idx {
			p = append(p, n)
		}
	}
	return p
}

// lineIndex maps every table, key and list element of a document to the line
// where it is written (for a table, its header or the first dotted key that
// creates it). It is built once per document and only read afterwards.
type lineIndex struct {
	lines   map[string]int
	headers []header // table headers in file order
	starts  []int    // byte offset of the start of each line
}

// header is one [table] or [[array table]] line.
type header struct {
	path keyPath
	line int
}

// lineOf returns the line of path, or 0 when the document does not mention it.
func (x *lineIndex) lineOf(p keyPath) int {
	if x == nil {
		return 0
	}
	return x.lines[p.id()]
}

// nearestLine returns the line of path, or of its closest ancestor that the
// document mentions, or 0.
func (x *lineIndex) nearestLine(p keyPath) int {
	for n := len(p); n >= 0; n-- {
		if l := x.lineOf(p[:n]); l > 0 {
			return l
		}
	}
	return 0
}

// buildIndex walks the document with go-toml's unstable parser. The document
// must already have been accepted by toml.Unmarshal; on a parser error the
// index simply stops where the error is.
func buildIndex(data []byte) *lineIndex {
	x := &lineIndex{lines: map[string]int{}, starts: []int{0}}
	for i, c := range data {
		if c == '\n' {
			x.starts = append(x.starts, i+1)
		}
	}
	var p unstable.Parser
	p.Reset(data)
	var table keyPath
	// current element of each array of tables, by the id of its path
	current := map[string]int{}
	for p.NextExpression() {
		expr := p.Expression()
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			var path keyPath
			it := expr.Key()
			line := 0
			for it.Next() {
				k := it.Node()
				if line == 0 {
					line = x.line(k.Raw)
				}
				path = append(path, string(k.Data))
				x.set(path, line)
				last := it.IsLast()
				if n, ok := current[path.id()]; ok && !(last && expr.Kind == unstable.ArrayTable) {
					// [a.b] after [[a]] names a key of a's last element.
					path = append(path, n)
				}
			}
			if expr.Kind == unstable.ArrayTable {
				id := path.id()
				n, ok := current[id]
				if ok {
					n++
				}
				current[id] = n
				// Array tables nested in the previous element start afresh.
				for k := range current {
					if len(k) > len(id) && strings.HasPrefix(k, id) && k[len(id)] <= 1 {
						delete(current, k)
					}
				}
				path = append(path, n)
				x.set(path, line)
			}
			x.headers = append(x.headers, header{path: path, line: line})
			table = path
		case unstable.KeyValue:
			x.keyValue(table, expr)
		}
	}
	return x
}

// keyValue records the key of a key = value expression (and every table its
// dotted key creates) and then everything inside the value.
func (x *lineIndex) keyValue(table keyPath, expr *unstable.Node) {
	path := table
	line := 0
	it := expr.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = x.line(k.Raw)
		}
		path = path.child(string(k.Data))
		x.set(path, line)
	}
	x.value(path, expr.Value(), line)
}

// value records the elements of lists and inline tables. Elements get the
// line they are written on, so a list spread over several lines points each
// entry at its own line.
func (x *lineIndex) value(path keyPath, v *unstable.Node, line int) {
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			n := it.Node()
			if n.Kind == unstable.Comment {
				continue
			}
			l := x.nodeLine(n, line)
			elem := path.child(i)
			x.set(elem, l)
			x.value(elem, n, l)
			i++
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			n := it.Node()
			if n.Kind == unstable.KeyValue {
				x.keyValue(path, n)
			}
		}
	}
}

// nodeLine is the line where a value starts. Arrays carry no range of their
// own, so their first element decides; an empty array falls back to def.
func (x *lineIndex) nodeLine(n *unstable.Node, def int) int {
	if n.Raw.Length > 0 {
		return x.line(n.Raw)
	}
	if n.Kind == unstable.Array {
		it := n.Children()
		for it.Next() {
			if it.Node().Kind != unstable.Comment {
				return x.nodeLine(it.Node(), def)
			}
		}
	}
	return def
}

// set records the first line that mentions path.
func (x *lineIndex) set(p keyPath, line int) {
	id := p.id()
	if _, ok := x.lines[id]; !ok && line > 0 {
		x.lines[id] = line
	}
}

// line converts a byte range of the document into its 1-based start line.
func (x *lineIndex) line(r unstable.Range) int {
	return sort.Search(len(x.starts), func(i int) bool { return x.starts[i] > int(r.Offset) })
}
