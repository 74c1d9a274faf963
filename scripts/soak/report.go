package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
)

// Figure is one measured value of a scenario and whether it passed.
type Figure struct {
	Scenario string
	Name     string
	Value    string
	OK       bool
	Skipped  bool
	// Defect is the number of the issue-11 defect this figure detects, 0
	// for none: a failure then reads "FAIL (defect N)".
	Defect int
}

// Verdict is the figure's pass/fail column.
func (f Figure) Verdict() string {
	switch {
	case f.Skipped:
		return "skip"
	case f.OK:
		return "pass"
	case f.Defect != 0:
		return fmt.Sprintf("FAIL (defect %d)", f.Defect)
	}
	return "FAIL"
}

// Report collects the figures of a run.
type Report struct {
	mu   sync.Mutex
	figs []Figure
	root string // the run's temp folder, shown as ROOT in values
}

func (r *Report) add(f Figure) {
	if r.root != "" {
		f.Value = strings.ReplaceAll(f.Value, r.root, "ROOT")
	}
	r.mu.Lock()
	r.figs = append(r.figs, f)
	r.mu.Unlock()
}

// Figures returns a copy of the figures so far.
func (r *Report) Figures() []Figure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Figure(nil), r.figs...)
}

// Failed reports whether any figure failed.
func (r *Report) Failed() bool {
	for _, f := range r.Figures() {
		if !f.OK && !f.Skipped {
			return true
		}
	}
	return false
}

// Print writes the figures table.
func (r *Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\tvalue\tresult")
	fmt.Fprintln(tw, "--------\t------\t-----\t------")
	for _, f := range r.Figures() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Scenario, f.Name, oneLine(f.Value), f.Verdict())
	}
	tw.Flush()
}

// oneLine shortens a value for the table.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 110 {
		s = s[:107] + "..."
	}
	return s
}

// run is one scenario's view of the report.
type run struct {
	*Harness
	scenario string
	cfg      Config
	seed     uint64
	failed   bool
}

// fig records a figure.
func (r *run) fig(name, value string, ok bool) {
	r.figD(0, name, value, ok)
}

// figD records a figure that detects defect n.
func (r *run) figD(n int, name, value string, ok bool) {
	if !ok {
		r.failed = true
	}
	r.report.add(Figure{Scenario: r.scenario, Name: name, Value: value, OK: ok, Defect: n})
	verdict := "pass"
	if !ok {
		verdict = "FAIL"
	}
	r.logf("%-14s %-44s %s  %s", r.scenario, name, oneLine(value), verdict)
}

// skip records that the scenario (or a part) could not run here.
func (r *run) skip(name, why string) {
	r.report.add(Figure{Scenario: r.scenario, Name: name, Value: why, Skipped: true})
	r.logf("%-14s %-44s skipped: %s", r.scenario, name, why)
}

// errFig records a setup error as a failed figure.
func (r *run) errFig(what string, err error) {
	r.fig(what, err.Error(), false)
}
