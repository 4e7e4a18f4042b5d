package server

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
)

// rpcRequest is one JSON-RPC 2.0 request object.
type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	ID      json.RawMessage `json:"id"`
}

// handleRPC serves one websocket message or /server/jsonrpc body and returns
// the reply to send, or nil when there is none (notifications only).
func (s *Server) handleRPC(data []byte, conn *Conn, tr Transport, remote netip.Addr) []byte {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(trimmed, &batch); err != nil {
			return rpcErrorMsg(nil, rpcParseError, "Parse error")
		}
		if len(batch) == 0 {
			return rpcErrorMsg(nil, rpcInvalidRequest, "Invalid Request")
		}
		out := []byte{'['}
		for _, item := range batch {
			if r := s.handleOne(item, conn, tr, remote); r != nil {
				if len(out) > 1 {
					out = append(out, ',')
				}
				out = append(out, r...)
			}
		}
		if len(out) == 1 {
			return nil
		}
		return append(out, ']')
	}
	return s.handleOne(trimmed, conn, tr, remote)
}

func (s *Server) handleOne(data []byte, conn *Conn, tr Transport, remote netip.Addr) []byte {
	var req rpcRequest
	if err := json.Unmarshal(data, &req); err != nil {
		if _, ok := err.(*json.UnmarshalTypeError); ok {
			return rpcErrorMsg(nil, rpcInvalidRequest, "Invalid Request")
		}
		return rpcErrorMsg(nil, rpcParseError, "Parse error")
	}
	id := req.ID
	if req.JSONRPC != "2.0" || req.Method == "" {
		return rpcErrorMsg(id, rpcInvalidRequest, "Invalid Request")
	}
	target, ok := s.rpc[req.Method]
	if !ok {
		return maybe(id, rpcErrorMsg(id, rpcMethodNotFound, "Method not found"))
	}
	args := map[string]any{}
	if p := bytes.TrimSpace(req.Params); len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		if p[0] != '{' {
			return maybe(id, rpcErrorMsg(id, rpcInvalidParams, "Invalid params: params must be an object of named arguments"))
		}
		if err := decodeJSON(p, &args); err != nil {
			return maybe(id, rpcErrorMsg(id, rpcInvalidParams, "Invalid params: "+jsonErrText(err)))
		}
	}
	r := Request{
		Method:     target.method,
		Path:       target.ep.Path,
		Args:       args,
		Transport:  tr,
		RemoteAddr: remote,
		Conn:       conn,
	}
	res, herr := s.call(target.ep, &r)
	if id == nil {
		return nil
	}
	if herr != nil {
		return rpcErrorMsg(id, rpcCode(herr.Code), herr.Message)
	}
	b := getEncBuf()
	defer putEncBuf(b)
	b.buf.WriteString(`{"jsonrpc":"2.0","result":`)
	if err := b.encodeValue(res); err != nil {
		s.log.Error("result could not be encoded", "method", req.Method, "err", err)
		return rpcErrorMsg(id, 500, "Internal Server Error: the result could not be encoded as JSON")
	}
	b.buf.WriteString(`,"id":`)
	b.buf.Write(id)
	b.buf.WriteByte('}')
	return append([]byte(nil), b.buf.Bytes()...)
}

// maybe drops the reply to a notification (a request without id).
func maybe(id json.RawMessage, msg []byte) []byte {
	if id == nil {
		return nil
	}
	return msg
}

// rpcErrorMsg builds an error response; a missing id is sent as null.
func rpcErrorMsg(id json.RawMessage, code int, msg string) []byte {
	b := getEncBuf()
	defer putEncBuf(b)
	b.buf.WriteString(`{"jsonrpc":"2.0","error":{"code":`)
	b.buf.WriteString(strconv.Itoa(code))
	b.buf.WriteString(`,"message":`)
	_ = b.encodeValue(msg)
	b.buf.WriteString(`},"id":`)
	if id == nil {
		b.buf.WriteString("null")
	} else {
		b.buf.Write(id)
	}
	b.buf.WriteByte('}')
	return append([]byte(nil), b.buf.Bytes()...)
}
