package notifier

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/moonrelay/moonrelay/host/store"
)

// Delivery is one entry of a notifier's history.
type Delivery struct {
	Notifier string    `json:"notifier"`
	Time     time.Time `json:"time"`
	Event    string    `json:"event"`
	// Result is sent, failed (the service refused, or a template failed)
	// or dropped (gave up after max_attempts or max_age).
	Result   string    `json:"result"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error,omitempty"`
	Info     string    `json:"info,omitempty"`
	Title    string    `json:"title,omitempty"`
	Problems []string  `json:"problems,omitempty"`
	Queued   time.Time `json:"queued,omitzero"`
}

// history keeps the last deliveries per notifier in the store.
type history struct {
	st    *store.Store
	keep  int
	mu    sync.Mutex
	count map[string]int // entries written since start, an upper bound
}

func (h *history) queue(name string) *store.Queue { return h.st.Queue("notifier/history/" + name) }

func (h *history) add(name string, d Delivery) {
	_ = h.st.Update(func(tx *store.Tx) error { return h.addTx(tx, name, d) })
}

// addTx appends d within tx; the ring is trimmed back to keep entries once
// it holds trimSlack more, so most deliveries write one entry only.
func (h *history) addTx(tx *store.Tx, name string, d Delivery) error {
	d.Notifier = name
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	q := tx.Queue("notifier/history/" + name)
	if _, err := q.Append(b); err != nil {
		return err
	}
	h.count[name]++
	if h.count[name] > h.keep+trimSlack {
		if _, err := q.Trim(h.keep); err != nil {
			return err
		}
		h.count[name] = h.keep
	}
	return nil
}

// trimSlack is how far a history ring may grow past keep before a trim.
const trimSlack = 16

// list returns up to limit deliveries of a notifier, newest first.
func (h *history) list(name string, limit int) []Delivery {
	var all []Delivery
	_ = h.queue(name).ForEach(func(_ uint64, v []byte) error {
		var d Delivery
		if json.Unmarshal(v, &d) == nil {
			all = append(all, d)
		}
		return nil
	})
	out := make([]Delivery, 0, min(limit, len(all), h.keep))
	limit = min(limit, h.keep)
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, all[i])
	}
	return out
}

// historyOf returns up to limit deliveries of a notifier, newest first:
// those finished but not yet written, then the stored ones.
func (m *Manager) historyOf(name string, limit int) []Delivery {
	out := append(m.pendingHistory(name), m.history.list(name, limit)...)
	return out[:min(len(out), limit, m.history.keep)]
}
