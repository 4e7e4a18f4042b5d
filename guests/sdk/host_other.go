//go:build !wasip1

package sdk

import "time"

// The non-wasm stubs let guests' pure code compile and be tested on the host.

func hostLog(int, string)                                   {}
func hostNow() time.Time                                    { return time.Now() }
func hostHTTP(HTTPRequest) (*HTTPResponse, error)           { return nil, ErrNoHost }
func hostKVGet(string) ([]byte, error)                      { return nil, ErrNoHost }
func hostKVSet(string, []byte) error                        { return ErrNoHost }
func hostAttachmentRead(uint32, int64, []byte) (int, error) { return 0, ErrNoHost }
func hostSMTP(SMTPRequest) (*SMTPReply, error)              { return nil, ErrNoHost }
