package control

import (
	"math"
	"net/http"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// webUsage is the body of /ui/usage: the figures of every process and the
// points of its resource history after since=, in one reply however many
// processes there are, so the page makes one request per refresh.
type webUsage struct {
	Now   float64                 `json:"now"`  // epoch seconds
	Step  float64                 `json:"step"` // seconds between points
	Procs map[string]webUsageProc `json:"procs"`
}

// webUsageProc is one process in webUsage, kept short: the page gets one
// for each of up to thousands of processes every few seconds. The history
// comes as three columns: T (epoch milliseconds), C (CPU %, one decimal)
// and M (RSS in KiB).
type webUsageProc struct {
	Run bool      `json:"run"` // false when there is no process to measure
	CPU float64   `json:"cpu"` // %, 100 = one core
	RSS int64     `json:"rss"` // bytes
	T   []int64   `json:"t"`
	C   []float64 `json:"c"`
	M   []int64   `json:"m"`
}

// serveUsage samples every process tree for its history (the page asking
// is what keeps the sampling going: once it is closed nothing samples) and
// answers each one's newest point as its figures, with the history points
// after since= (Unix seconds). It samples only CPU and memory, of each
// tree only (Engine.SampleHistory): with 200 programs that costs the
// daemon a fraction of what a full Usage sample of the machine would.
func (p *webPage) serveUsage(w http.ResponseWriter, r *http.Request) {
	since, ok := parseSince(w, r)
	if !ok {
		return
	}
	infos := p.s.eng.Status()
	latest := p.s.eng.SampleHistory(infos)
	hist := p.s.eng.UsageHistory(infos, since)
	out := webUsage{Now: float64(time.Now().UnixMilli()) / 1000, Step: supervisor.UsageStep.Seconds(),
		Procs: make(map[string]webUsageProc, len(infos))}
	for n, i := range infos {
		u := latest[n]
		wp := webUsageProc{Run: i.Pid != 0 && u.RSS != 0, CPU: math.Round(u.CPUPercent*10) / 10, RSS: u.RSS,
			T: make([]int64, 0, len(hist[n])), C: make([]float64, 0, len(hist[n])), M: make([]int64, 0, len(hist[n]))}
		for _, pt := range hist[n] {
			wp.T = append(wp.T, pt.Time.UnixMilli())
			wp.C = append(wp.C, math.Round(pt.CPUPercent*10)/10)
			wp.M = append(wp.M, pt.RSS>>10)
		}
		out.Procs[i.Namespec()] = wp
	}
	webNoCache(w)
	writeJSON(w, http.StatusOK, out)
}
