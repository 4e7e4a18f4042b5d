package sim

import (
	"strconv"
	"strings"
)

// command is one parsed G-code line.
type command struct {
	name  string            // upper case: "G1", "M104", "SDCARD_PRINT_FILE"
	raw   string            // the line without its comment, as written
	args  string            // everything after the command name, as written
	param map[string]string // upper-case keys; classic letters or extended KEY=VALUE
}

// parseLine splits a G-code line the way Klipper's gcode.py does: a comment
// starts at ';', a leading "N<n>" line number and a trailing "*<checksum>" are
// dropped, traditional commands ("G1 X10 E.5", "G1X10") take single-letter
// parameters and extended commands ("SET_PRINT_STATS_INFO TOTAL_LAYER=5")
// take KEY=VALUE pairs with shell-style quoting. It reports ok=false for a
// line with no command.
func parseLine(line string) (command, bool) {
	if i := strings.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return command{}, false
	}
	if (line[0] == 'N' || line[0] == 'n') && len(line) > 1 && isDigit(line[1]) {
		i := 1
		for i < len(line) && isDigit(line[i]) {
			i++
		}
		line = strings.TrimSpace(line[i:])
		if line == "" {
			return command{}, false
		}
	}
	if isTraditional(line) {
		return parseTraditional(line), true
	}
	name, rest, _ := strings.Cut(line, " ")
	if j := strings.IndexAny(name, "\t"); j >= 0 {
		name, rest = name[:j], name[j+1:]+" "+rest
	}
	c := command{name: strings.ToUpper(name), raw: line, args: strings.TrimSpace(rest)}
	c.param = parseExtended(c.args)
	return c, true
}

func isDigit(b byte) bool  { return b >= '0' && b <= '9' }
func isLetter(b byte) bool { return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') }

// isTraditional reports whether line starts like "G1", "M104" or "T0":
// one letter then a number, followed by a space, a parameter letter or the end.
func isTraditional(line string) bool {
	if len(line) < 2 || !isLetter(line[0]) || !isDigit(line[1]) {
		return false
	}
	i := 2
	for i < len(line) && (isDigit(line[i]) || line[i] == '.') {
		i++
	}
	return i == len(line) || line[i] == ' ' || line[i] == '\t' || isLetter(line[i]) || line[i] == '*'
}

func parseTraditional(line string) command {
	if i := strings.IndexByte(line, '*'); i >= 0 {
		line = strings.TrimSpace(line[:i])
	}
	i := 1
	for i < len(line) && (isDigit(line[i]) || line[i] == '.') {
		i++
	}
	c := command{name: strings.ToUpper(line[:i]), raw: line, args: strings.TrimSpace(line[i:]), param: map[string]string{}}
	rest := line[i:]
	for j := 0; j < len(rest); {
		ch := rest[j]
		if !isLetter(ch) {
			j++
			continue
		}
		k := j + 1
		for k < len(rest) && !isLetter(rest[k]) && rest[k] != ' ' && rest[k] != '\t' {
			k++
		}
		c.param[strings.ToUpper(string(ch))] = rest[j+1 : k]
		j = k
	}
	return c
}

// parseExtended reads KEY=VALUE pairs, honouring single and double quotes
// and backslash escapes inside double quotes, as Klipper's shlex use does.
func parseExtended(s string) map[string]string {
	out := map[string]string{}
	var words []string
	var b strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"' || ch == '\'':
			inWord = true
			q := ch
			for i++; i < len(s) && s[i] != q; i++ {
				if q == '"' && s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				b.WriteByte(s[i])
			}
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		case ch == '#':
			i = len(s)
		default:
			inWord = true
			b.WriteByte(ch)
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	for _, w := range words {
		k, v, _ := strings.Cut(w, "=")
		out[strings.ToUpper(k)] = v
	}
	return out
}

// float reads a numeric parameter. ok is false when the parameter is absent;
// err is set when it is present but not a number.
func (c command) float(key string) (v float64, ok bool, err error) {
	s, ok := c.param[key]
	if !ok {
		return 0, false, nil
	}
	v, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, true, cmdErrorf("Unable to parse '%s' as a float", s)
	}
	return v, true, nil
}

// floatDefault reads a numeric parameter or returns def when it is absent.
func (c command) floatDefault(key string, def float64) (float64, error) {
	v, ok, err := c.float(key)
	if err != nil {
		return 0, err
	}
	if !ok {
		return def, nil
	}
	return v, nil
}
