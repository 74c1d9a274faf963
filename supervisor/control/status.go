package control

import (
	"sync"

	"github.com/tend-sh/tend/supervisor"
)

// replyCache keeps one encoded reply built from the engine's status, for
// as long as it holds: while the engine's generation (which moves at any
// change) and the second of the clock (replies carry "now" and uptimes in
// seconds) stay the same. Fifty clients polling the status of a thousand
// programs then share one encoding per change or second, instead of
// taking the engine's lock and encoding a few hundred kilobytes each.
type replyCache struct {
	mu   sync.Mutex // held while building, so concurrent misses build once
	gen  uint64
	sec  int64
	body []byte
}

// get returns the cached reply, or builds it from a fresh status with
// build. A nil body from build is returned and not cached.
func (c *replyCache) get(eng *supervisor.Engine, build func([]supervisor.Info) []byte) []byte {
	gen, now := eng.StatusGen()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body != nil && c.gen == gen && c.sec == now.Unix() {
		return c.body
	}
	infos, gen := eng.StatusAt()
	body := build(infos)
	if body == nil {
		return nil
	}
	c.body, c.gen, c.sec = body, gen, now.Unix()
	if len(infos) > 0 {
		// Keyed by the second the reply reports, which may have ticked
		// since StatusGen.
		c.sec = infos[0].Now.Unix()
	}
	return body
}
