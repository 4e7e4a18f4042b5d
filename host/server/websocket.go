package server

import (
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// maxInflight bounds how many requests of one websocket run at once; further
// messages wait, so a flooding client only slows itself.
const maxInflight = 64

// ClientInfo is what a client said of itself in server.connection.identify.
type ClientInfo struct {
	Name    string `json:"client_name"`
	Version string `json:"version"`
	Type    string `json:"type"`
	URL     string `json:"url"`
}

// Conn is one websocket client.
type Conn struct {
	// ID is the connection id reported by server.connection.identify.
	ID     int64
	srv    *Server
	ws     *websocket.Conn
	remote netip.Addr
	send   chan []byte
	done   chan struct{}
	once   sync.Once

	mu         sync.Mutex
	identified bool
	info       ClientInfo
	onClose    []func()
}

// RemoteAddr returns the client's IP address.
func (c *Conn) RemoteAddr() netip.Addr { return c.remote }

// Info returns what the client said of itself, and whether it identified.
func (c *Conn) Info() (ClientInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info, c.identified
}

// OnClose registers f to run once when the connection closes (e.g. to drop
// the client's subscriptions). If it is already closed, f runs now.
func (c *Conn) OnClose(f func()) {
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		f()
		return
	default:
	}
	c.onClose = append(c.onClose, f)
	c.mu.Unlock()
}

// Done is closed when the connection has closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Notify sends {"jsonrpc":"2.0","method":method,"params":params} to this
// client only. It never blocks: a client whose queue is full is dropped.
func (c *Conn) Notify(method string, params ...any) error {
	msg, err := encodeNotification(method, params)
	if err != nil {
		return err
	}
	c.enqueue(msg)
	return nil
}

// enqueue queues msg without blocking; a full queue disconnects the client
// so that it cannot hold up broadcasts to everyone else.
func (c *Conn) enqueue(msg []byte) {
	select {
	case c.send <- msg:
	case <-c.done:
	default:
		c.srv.log.Warn("websocket client too slow, disconnecting", "conn", c.ID, "remote", c.remote.String(), "queued", len(c.send))
		go c.closeWith(websocket.CloseTryAgainLater, "client too slow: outgoing queue full")
	}
}

// reply queues a response, waiting while the queue is full: a client that
// does not read its replies is slowed down rather than dropped, and a dead
// one ends with its write timeout.
func (c *Conn) reply(msg []byte) {
	select {
	case c.send <- msg:
	case <-c.done:
	}
}

// closeWith sends a close frame with code and closes the connection.
func (c *Conn) closeWith(code int, text string) {
	c.once.Do(func() {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
		c.mu.Lock()
		close(c.done)
		hooks := c.onClose
		c.onClose = nil
		c.mu.Unlock()
		_ = c.ws.Close()
		for _, f := range hooks {
			f()
		}
	})
}

// serveWebsocket upgrades GET /websocket.
func (s *Server) serveWebsocket(ctx *fasthttp.RequestCtx) {
	remote := remoteAddr(ctx)
	err := s.ws.Upgrade(ctx, func(ws *websocket.Conn) {
		c := &Conn{
			ID:     s.nextID.Add(1),
			srv:    s,
			ws:     ws,
			remote: remote,
			send:   make(chan []byte, s.opts.WebsocketQueue),
			done:   make(chan struct{}),
		}
		s.connMu.Lock()
		if s.ctx.Err() != nil {
			s.connMu.Unlock()
			c.closeWith(websocket.CloseGoingAway, "moonrelay is shutting down")
			return
		}
		s.conns[c.ID] = c
		s.connMu.Unlock()
		s.wsCount.Add(1)
		s.log.Debug("websocket opened", "conn", c.ID, "remote", remote.String())
		defer func() {
			c.closeWith(websocket.CloseNormalClosure, "")
			s.connMu.Lock()
			delete(s.conns, c.ID)
			s.connMu.Unlock()
			s.wsCount.Add(-1)
			s.log.Debug("websocket closed", "conn", c.ID)
		}()
		go c.writeLoop()
		c.readLoop()
	})
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", remote.String(), "err", err)
	}
}

func (c *Conn) readLoop() {
	s := c.srv
	ws := c.ws
	ws.SetReadLimit(s.opts.MaxWebsocketMessage)
	pongWait := 2 * s.opts.PingInterval
	_ = ws.SetReadDeadline(time.Now().Add(pongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(pongWait)) })
	sem := make(chan struct{}, maxInflight)
	var wg sync.WaitGroup
	defer func() {
		// Close first so that handlers blocked on a full queue give up.
		c.closeWith(websocket.CloseNormalClosure, "")
		wg.Wait()
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.closeWith(websocket.CloseMessageTooBig, "message larger than the server's limit")
			}
			return
		}
		_ = ws.SetReadDeadline(time.Now().Add(pongWait))
		select {
		case sem <- struct{}{}:
		case <-c.done:
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if out := s.handleRPC(data, c, TransportWebsocket, c.remote); out != nil {
				c.reply(out)
			}
		}()
	}
}

func (c *Conn) writeLoop() {
	s := c.srv
	ticker := time.NewTicker(s.opts.PingInterval)
	defer ticker.Stop()
	for {
		select {
		case msg := <-c.send:
			_ = c.ws.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.closeWith(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.opts.WriteTimeout)); err != nil {
				c.closeWith(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.done:
			return
		}
	}
}

// Broadcast sends a notify_* notification to every websocket client. The
// message is encoded once; slow clients are dropped, never waited for.
func (s *Server) Broadcast(method string, params ...any) error {
	msg, err := encodeNotification(method, params)
	if err != nil {
		return err
	}
	s.connMu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.connMu.Unlock()
	for _, c := range conns {
		c.enqueue(msg)
	}
	return nil
}

// encodeNotification builds a JSON-RPC notification; no params → no field.
func encodeNotification(method string, params []any) ([]byte, error) {
	b := getEncBuf()
	defer putEncBuf(b)
	b.buf.WriteString(`{"jsonrpc":"2.0","method":`)
	if err := b.encodeValue(method); err != nil {
		return nil, err
	}
	if params != nil {
		b.buf.WriteString(`,"params":`)
		if err := b.encodeValue(params); err != nil {
			return nil, err
		}
	}
	b.buf.WriteByte('}')
	return append([]byte(nil), b.buf.Bytes()...), nil
}
