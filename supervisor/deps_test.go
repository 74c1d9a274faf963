package supervisor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// depSpec is a test spec with requirements.
func (h *harness) depSpec(name string, argv []string, reqs ...Requirement) Spec {
	s := h.spec(name, argv...)
	s.Requires = reqs
	return s
}

// oneShot is a task that ends on its own with code, RUNNING at once.
func (h *harness) oneShot(name string, code int, reqs ...Requirement) Spec {
	s := h.depSpec(name, sh(fmt.Sprintf("sleep 0.05; exit %d", code)), reqs...)
	s.StartSecs, s.AutoRestart = 0, RestartNever
	return s
}

// index returns the position among all events of the first PROCESS_STATE
// event of name entering st, or -1.
func index(evs []Event, name string, st State) int {
	return slices.IndexFunc(evs, func(ev Event) bool {
		return ev.Type == EventProcessState && Namespec(ev.Group, ev.Process) == name && ev.To == st
	})
}

// before fails the test unless a entered sa before b entered sb.
func (h *harness) before(a string, sa State, b string, sb State) {
	h.t.Helper()
	h.sync()
	evs := h.all()
	ia, ib := index(evs, a, sa), index(evs, b, sb)
	if ia < 0 || ib < 0 || ia > ib {
		h.t.Errorf("%s %s (event %d) should come before %s %s (event %d); %s: %v, %s: %v",
			a, sa, ia, b, sb, ib, a, h.states(a), b, h.states(b))
	}
}

func TestRequiresStartOrder(t *testing.T) {
	h := newHarness(t)
	db := h.spec("db", "sleep", "1000") // RUNNING after startsecs (0.3 s)
	migrate := h.oneShot("migrate", 0, Requirement{Name: "db"})
	web := h.depSpec("web", []string{"sleep", "1000"},
		Requirement{Name: "db", Condition: CondReady}, Requirement{Name: "migrate", Condition: CondCompletedSuccessfully})
	web.Priority = 1 // priority would start it first: requirements come before it
	h.update(web, migrate, db)
	h.waitState("web", Running, 10*time.Second)
	h.before("db", Running, "migrate", Starting)
	h.before("migrate", Exited, "web", Starting)
	if got := h.states("web"); !slices.Equal(got, []State{Starting, Running}) {
		t.Errorf("web went through %v, want STARTING, RUNNING only", got)
	}
}

func TestRequiresWaitingIsShown(t *testing.T) {
	h := newHarness(t)
	db := h.spec("db", "sleep", "1000")
	db.StartSecs, db.AutoStart = 2*time.Second, false
	web := h.depSpec("web", []string{"sleep", "1000"}, Requirement{Name: "db"})
	web.AutoStart = false
	h.update(db, web)
	done := make(chan error, 1)
	go func() { done <- h.e.StartProcess(context.Background(), "web", true) }()
	h.waitEngine("web waiting", 5*time.Second, func() bool {
		i, _ := h.e.Info("web")
		return i.Waiting != ""
	})
	h.sync()
	i, _ := h.e.Info("web")
	if i.State != Stopped || i.Waiting != "db (running)" || i.Description() != "Not started, waiting for db (running)" {
		t.Errorf("waiting web: state %s, Waiting %q, description %q", i.State, i.Waiting, i.Description())
	}
	if !slices.Equal(i.Requires, []Requirement{{Name: "db", Condition: CondRunning}}) {
		t.Errorf("Requires = %v, want db (running)", i.Requires)
	}
	if st := h.states("db"); !slices.Equal(st, []State{Starting}) {
		t.Errorf("starting web should have started db: db went through %v", st)
	}
	select {
	case err := <-done:
		t.Fatalf("StartProcess(web, wait) returned %v while web was waiting", err)
	default:
	}
	if err := <-done; err != nil {
		t.Fatalf("StartProcess(web): %v", err)
	}
	if i, _ := h.e.Info("web"); i.State != Running || i.Waiting != "" {
		t.Errorf("web after the start: %s, waiting %q", i.State, i.Waiting)
	}
	h.before("db", Running, "web", Starting)
}

func TestRequiresFatalPropagates(t *testing.T) {
	h := newHarness(t)
	db := h.spec("db", sh("exit 1")...)
	db.StartRetries = 0
	web := h.depSpec("web", []string{"sleep", "1000"}, Requirement{Name: "db"})
	api := h.depSpec("api", []string{"sleep", "1000"}, Requirement{Name: "web", Condition: CondStarted})
	migrate := h.oneShot("migrate", 3)
	job := h.depSpec("job", []string{"sleep", "1000"}, Requirement{Name: "migrate", Condition: CondCompletedSuccessfully})
	h.update(db, web, api, migrate, job)
	for name, want := range map[string]string{
		"web": "dependency db: FATAL",
		"api": "dependency web: FATAL",
		"job": "dependency migrate: EXITED (exit status 3)",
	} {
		i := h.waitState(name, Fatal, 10*time.Second)
		if i.SpawnErr != want || i.Pid != 0 || !i.Start.IsZero() {
			t.Errorf("%s: spawnerr %q, pid %d, started %v; want %q and never spawned", name, i.SpawnErr, i.Pid, i.Start, want)
		}
	}
	var reasons []string
	for _, c := range h.e.History() {
		if c.Process == "web" && c.To == Fatal {
			reasons = append(reasons, c.Reason)
		}
	}
	if !slices.Equal(reasons, []string{"dependency db: FATAL"}) {
		t.Errorf("history of web's FATAL: %q", reasons)
	}
}

// stubborn is a process that takes a while to stop on SIGTERM.
var stubborn = sh(`trap 'sleep 0.3; exit 0' TERM; while :; do sleep 0.05; done`)

func TestRequiresStopOrder(t *testing.T) {
	h := newHarness(t)
	db := h.spec("db", stubborn...)
	web := h.depSpec("web", stubborn, Requirement{Name: "db"})
	api := h.depSpec("api", stubborn, Requirement{Name: "web", Condition: CondStarted})
	other := h.spec("other", "sleep", "1000")
	for _, s := range []*Spec{&db, &web, &api, &other} {
		s.StartSecs = 0
	}
	h.update(db, web, api, other)
	h.waitState("api", Running, 10*time.Second)

	// Stopping db stops what requires it first, dependents last-level first.
	rs, err := h.e.Stop(context.Background(), ParseTarget("db"), true)
	if err != nil || len(rs) != 1 || rs[0].Err != nil {
		t.Fatalf("Stop(db) = %v, %v", rs, err)
	}
	h.before("api", Stopped, "web", Stopping)
	h.before("web", Stopped, "db", Stopping)
	for _, n := range []string{"db", "web", "api"} {
		if i, _ := h.e.Info(n); i.State != Stopped {
			t.Errorf("%s is %s after Stop(db, wait)", n, i.State)
		}
	}
	if i, _ := h.e.Info("other"); i.State != Running {
		t.Errorf("other is %s: stopping db stopped it", i.State)
	}

	// Restart of db brings its dependents back, after it.
	h.e.Start(context.Background(), ParseTarget("api"), true)
	h.waitState("api", Running, 10*time.Second)
	n := len(h.all())
	if _, _, err := h.e.Restart(context.Background(), ParseTarget("db"), true); err != nil {
		t.Fatal(err)
	}
	h.waitState("web", Running, 10*time.Second)
	h.waitState("api", Running, 10*time.Second)
	h.sync()
	evs := h.all()[n:]
	if i, j := index(evs, "db", Running), index(evs, "web", Starting); i < 0 || j < i {
		t.Errorf("after restart db: db RUNNING at %d, web STARTING at %d", i, j)
	}

	// A shutdown stops in reverse levels: api, then web, then db.
	n = len(h.all())
	h.e.Shutdown(context.Background())
	h.sync()
	evs = h.all()[n:]
	ia, iw, id := index(evs, "api", Stopped), index(evs, "web", Stopping), index(evs, "web", Stopped)
	if ia < 0 || iw < ia || id < 0 || index(evs, "db", Stopping) < id {
		t.Errorf("shutdown order: api STOPPED %d, web STOPPING %d, web STOPPED %d, db STOPPING %d",
			ia, iw, id, index(evs, "db", Stopping))
	}
}

func TestRequiresGroupAndInstance(t *testing.T) {
	h := newHarness(t)
	var specs []Spec
	for i, secs := range []time.Duration{100 * time.Millisecond, 600 * time.Millisecond} {
		w := h.spec(fmt.Sprintf("w_%d", i), "sleep", "1000")
		w.Program, w.Group, w.Num, w.StartSecs = "w", "workers", i, secs
		specs = append(specs, w)
	}
	app := h.depSpec("app", []string{"sleep", "1000"}, Requirement{Name: "workers"})
	one := h.depSpec("one", []string{"sleep", "1000"}, Requirement{Name: "w_0"})
	pair := h.depSpec("pair", []string{"sleep", "1000"}, Requirement{Name: "workers:w_1"})
	for _, s := range []*Spec{&app, &one, &pair} {
		s.StartSecs = 0
	}
	h.update(append(specs, app, one, pair)...)
	h.waitState("app", Running, 10*time.Second)
	h.waitState("one", Running, 10*time.Second)
	h.waitState("pair", Running, 10*time.Second)
	h.before("workers:w_1", Running, "app", Starting)
	h.before("workers:w_0", Running, "one", Starting)
	h.before("one", Starting, "workers:w_1", Running) // w_0 alone: no wait for w_1
	h.before("workers:w_1", Running, "pair", Starting)
}

func TestRequiresCycleRejected(t *testing.T) {
	h := newHarness(t)
	a := h.depSpec("a", []string{"true"}, Requirement{Name: "b"})
	b := h.depSpec("b", []string{"true"}, Requirement{Name: "a"})
	_, err := h.e.Update(context.Background(), []Spec{a, b})
	if err == nil || !strings.Contains(err.Error(), "cycle: a -> b -> a") {
		t.Fatalf("Update with a cycle: %v", err)
	}
	if len(h.e.Status()) != 0 {
		t.Errorf("a rejected update added processes: %v", h.e.Status())
	}
}

func TestStartLevels(t *testing.T) {
	spec := func(name string, prio int, reqs ...string) Spec {
		s := NewSpec(name, "true")
		s.Priority, s.GroupPriority = prio, prio
		for _, r := range reqs {
			s.Requires = append(s.Requires, Requirement{Name: r})
		}
		return s
	}
	levels, errs := StartLevels([]Spec{
		spec("web", 1, "db", "cache"), spec("cache", 5), spec("db", 10), spec("migrate", 1, "db"), spec("cron", 999),
	})
	var got []string
	for _, l := range levels {
		var names []string
		for _, s := range l {
			names = append(names, s.Name)
		}
		got = append(got, strings.Join(names, " "))
	}
	if want := []string{"cache db cron", "migrate web"}; errs != nil || !slices.Equal(got, want) {
		t.Errorf("levels %q (errors %v), want %q", got, errs, want)
	}
	_, errs = StartLevels([]Spec{spec("a", 1, "nosuch"), spec("b", 1, "c"), spec("c", 1, "b"), spec("d", 1, "d")})
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Process+": "+e.Error())
	}
	want := []string{`a: requires: "nosuch" is no program, group or process`, "b: requires: cycle: b -> c -> b", "d: requires: cycle: d -> d"}
	if !slices.Equal(msgs, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

// TestRequiresRandomDAG is the property test: in random graphs of 30
// programs with random start and readiness delays, no program is spawned
// before each of its requirements held its condition, and every stop
// (Stop of all, or a shutdown) stops a program before what it requires.
func TestRequiresRandomDAG(t *testing.T) {
	seeds := 8 // about a second each
	if testing.Short() {
		seeds = 3
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomDAG(t, uint64(seed)) })
	}
}

func randomDAG(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	h := newHarness(t)
	const n = 30
	specs := make([]Spec, n)
	oneShot := make([]bool, n)
	for i := range specs {
		name := fmt.Sprintf("p%02d", i)
		ms := func(max int) float64 { return float64(rng.IntN(max)) / 1000 }
		if oneShot[i] = rng.IntN(4) == 0; oneShot[i] {
			specs[i] = h.oneShot(name, 0)
			specs[i].Command = sh(fmt.Sprintf("sleep %.3f; exit %d", ms(40), []int{0, 3}[rng.IntN(2)]))
		} else {
			specs[i] = h.spec(name, sh(fmt.Sprintf("sleep %.3f; echo >&3; exec sleep 1000", ms(60)))...)
			specs[i].Ready = &ReadySpec{FD: 3}
			specs[i].StartSecs = time.Duration(rng.IntN(50)) * time.Millisecond
		}
		specs[i].Priority = rng.IntN(3) // priority must not matter
		for j := range i {
			if rng.IntN(8) != 0 {
				continue
			}
			c := []Condition{CondDefault, CondStarted, CondRunning, CondReady}[rng.IntN(4)]
			if oneShot[j] {
				c = CondCompleted
				if strings.HasSuffix(specs[j].Command[2], "exit 0") && rng.IntN(2) == 0 {
					c = CondCompletedSuccessfully
				}
			}
			specs[i].Requires = append(specs[i].Requires, Requirement{Name: specs[j].Name, Condition: c})
		}
	}
	rng.Shuffle(n, func(i, j int) { specs[i], specs[j] = specs[j], specs[i] })
	h.update(specs...)
	h.waitEngine("every program up or done", 20*time.Second, func() bool {
		for _, i := range h.e.Status() {
			if !(i.State == Running || i.State == Exited && i.Waiting == "") {
				return false
			}
		}
		return true
	})
	h.sync()
	evs := h.all()
	for _, s := range specs {
		at := index(evs, s.Name, Starting)
		for _, r := range s.Requires {
			checkHeld(t, evs, at, s.Name, r, specs)
		}
	}

	// Stop everything, one way or the other, and check the order.
	n0 := len(h.all())
	if seed%2 == 0 {
		h.e.Stop(context.Background(), AllTarget, true)
		h.sync()
	} else {
		h.e.Shutdown(context.Background())
		h.sync()
	}
	evs = h.all()[n0:]
	for _, s := range specs {
		stopped := index(evs, s.Name, Stopped)
		if stopped < 0 {
			stopped = index(evs, s.Name, Exited) // a task ending while held
		}
		if stopped < 0 && !oneShotDone(evs, s.Name) {
			t.Errorf("%s never stopped: %v", s.Name, h.states(s.Name))
		}
		for _, r := range s.Requires {
			if st := index(evs, r.Name, Stopping); st >= 0 && stopped >= 0 && stopped > st {
				t.Errorf("%s (requires %s) stopped at event %d, after %s began to stop at %d", s.Name, r.Name, stopped, r.Name, st)
			}
		}
	}
}

// oneShotDone reports whether name had no state change in evs: a task
// that had already ended.
func oneShotDone(evs []Event, name string) bool {
	return !slices.ContainsFunc(evs, func(ev Event) bool { return ev.Type == EventProcessState && ev.Process == name })
}

// checkHeld fails the test unless requirement r of name held when name
// entered STARTING at event at.
func checkHeld(t *testing.T, evs []Event, at int, name string, r Requirement, specs []Spec) {
	t.Helper()
	var last *Event
	for i := range evs[:at] {
		if ev := &evs[i]; ev.Type == EventProcessState && ev.Process == r.Name {
			last = ev
		}
	}
	i := slices.IndexFunc(specs, func(s Spec) bool { return s.Name == r.Name })
	var ok bool
	switch {
	case last == nil:
	case r.Condition == CondStarted:
		ok = last.To == Starting || last.To == Running
	case r.Condition == CondRunning:
		ok = last.To == Running || last.To == Starting && evs[at].Time.Sub(last.Time) >= specs[i].StartSecs
	case r.Condition == CondCompleted:
		ok = last.To == Exited
	case r.Condition == CondCompletedSuccessfully:
		ok = last.To == Exited && last.Expected
	default:
		ok = last.To == Running
	}
	if !ok {
		t.Errorf("%s started (event %d) when %s was %v: %s did not hold", name, at, r.Name, last, r)
	}
}

// A requirement that refuses to start (no such command: its state does not
// change) fails the start of what requires it at once.
func TestRequiresRefusedStart(t *testing.T) {
	h := newHarness(t)
	db := h.spec("db", "/nonexistent/tend-db")
	db.AutoStart = false
	web := h.depSpec("web", []string{"sleep", "1000"}, Requirement{Name: "db"})
	web.AutoStart = false
	h.update(db, web)
	err := h.e.StartProcess(context.Background(), "web", true)
	i, _ := h.e.Info("web")
	if FaultOf(err) != FaultSpawnError || i.State != Fatal || !strings.HasPrefix(i.SpawnErr, "dependency db: ") || !strings.Contains(i.SpawnErr, "/nonexistent/tend-db") {
		t.Errorf("start web: %v; web %s, spawnerr %q", err, i.State, i.SpawnErr)
	}
	if d, _ := h.e.Info("db"); d.State != Stopped {
		t.Errorf("db is %s", d.State)
	}
}

// Starting a group whose processes require each other starts each once,
// requirements first, and reports every one.
func TestRequiresWithinGroupStart(t *testing.T) {
	h := newHarness(t)
	db := h.spec("db", "sleep", "1000")
	web := h.depSpec("web", []string{"sleep", "1000"}, Requirement{Name: "db"})
	for _, s := range []*Spec{&db, &web} {
		s.Group, s.AutoStart, s.StartSecs = "app", false, 100*time.Millisecond
	}
	db.Priority = 500 // web would come first by priority
	web.Priority = 1
	h.update(db, web)
	rs, err := h.e.Start(context.Background(), GroupTarget("app"), true)
	if err != nil || len(rs) != 2 || rs[0].Err != nil || rs[1].Err != nil {
		t.Fatalf("Start(app) = %+v, %v", rs, err)
	}
	h.before("app:db", Running, "app:web", Starting)
	if got := h.states("app:db"); !slices.Equal(got, []State{Starting, Running}) {
		t.Errorf("db went through %v", got)
	}
}

// running holds once startsecs have passed even if the target is not ready
// yet (still STARTING); ready, the default for a target with ready, waits
// for readiness.
func TestRequiresRunningVersusReady(t *testing.T) {
	h := newHarness(t)
	flag := h.file("go")
	db := h.spec("db", sh(`while [ ! -e `+flag+` ]; do sleep 0.05; done; echo >&3; exec sleep 1000`)...)
	db.StartSecs, db.Ready = 100*time.Millisecond, &ReadySpec{FD: 3}
	early := h.depSpec("early", []string{"sleep", "1000"}, Requirement{Name: "db", Condition: CondRunning})
	late := h.depSpec("late", []string{"sleep", "1000"}, Requirement{Name: "db"})
	h.update(db, early, late)
	h.waitState("early", Running, 10*time.Second)
	if i, _ := h.e.Info("db"); i.State != Starting {
		t.Fatalf("db is %s before it is ready", i.State)
	}
	if i, _ := h.e.Info("late"); i.State != Stopped || i.Waiting != "db (ready)" {
		t.Errorf("late: %s, waiting %q; want STOPPED waiting for db (ready)", i.State, i.Waiting)
	}
	writeFile(t, flag, "", 0o644)
	h.waitState("late", Running, 10*time.Second)
	h.before("db", Running, "late", Starting)
}

// An update that removes a program and what requires it stops the
// dependent first.
func TestRequiresUpdateRemovesDependentFirst(t *testing.T) {
	h := newHarness(t)
	db := h.spec("db", stubborn...)
	web := h.depSpec("web", stubborn, Requirement{Name: "db"})
	keep := h.spec("keep", "sleep", "1000")
	for _, s := range []*Spec{&db, &web, &keep} {
		s.StartSecs = 0
	}
	h.update(db, web, keep)
	h.waitState("web", Running, 10*time.Second)
	h.update(keep)
	h.before("web", Stopped, "db", Stopping)
	if len(h.e.Status()) != 1 {
		t.Errorf("left: %v", h.e.Status())
	}
}
