package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// loadSecrets reads the secrets file named by [secrets] path. Problems
// reading it point at that key (configFile, line); problems inside it point
// at the secrets file itself. Messages never quote a secret value.
func loadSecrets(configFile, path string, line int) (map[string]any, Errors) {
	data, err := os.ReadFile(path)
	if err != nil {
		return map[string]any{}, Errors{{File: configFile, Line: line, Section: "secrets", Key: "path",
			Msg: fmt.Sprintf("cannot read the secrets file %q: %s", path, ioReason(err)), err: err}}
	}
	var values map[string]any
	var perr *Error
	if strings.EqualFold(filepath.Ext(path), ".json") {
		values, perr = parseJSONSecrets(path, data)
	} else {
		values, perr = parseTOMLSecrets(path, data)
	}
	if perr != nil {
		return map[string]any{}, Errors{perr}
	}
	return values, nil
}

// parseTOMLSecrets reads a TOML secrets file.
func parseTOMLSecrets(path string, data []byte) (map[string]any, *Error) {
	var values map[string]any
	if err := toml.Unmarshal(data, &values); err != nil {
		e := syntaxError(path, err)
		e.Msg = strings.Replace(e.Msg, "syntax error", "syntax error in the secrets file", 1)
		return nil, e
	}
	return values, nil
}

// parseJSONSecrets reads a JSON secrets file. Whole numbers become int64, as
// in TOML, so that a chat id renders as 123456789 and not 1.23456789e+08.
func parseJSONSecrets(path string, data []byte) (map[string]any, *Error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return nil, &Error{File: path, Line: lineAt(data, int(dec.InputOffset())),
				Msg: "syntax error in the secrets file: unexpected text after the closing }"}
		}
	}
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, &Error{File: path, Line: lineAt(data, int(se.Offset)-1),
				Msg: "syntax error in the secrets file: " + se.Error(), err: err}
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &Error{File: path, Line: lineAt(data, len(data)),
				Msg: "syntax error in the secrets file: the file ends too early", err: err}
		default:
			return nil, &Error{File: path, Msg: "syntax error in the secrets file: " + err.Error(), err: err}
		}
	}
	values, ok := jsonNumbers(v).(map[string]any)
	if !ok {
		return nil, &Error{File: path, Line: 1,
			Msg: `the secrets file must hold a JSON object such as {"telegram": {"token": "..."}}`}
	}
	return values, nil
}

// jsonNumbers replaces json.Number with int64 when whole, else float64.
func jsonNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = jsonNumbers(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = jsonNumbers(e)
		}
		return v
	default:
		return v
	}
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(data []byte, offset int) int {
	offset = max(0, min(offset, len(data)))
	return 1 + bytes.Count(data[:offset], []byte("\n"))
}
