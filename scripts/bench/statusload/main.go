// Command statusload measures tend's status under load: it starts a
// daemon with N sleeping programs, lets C clients poll the status (the
// JSON API, /v1/status, or XML-RPC supervisor.getAllProcessInfo, as
// supervisorctl status does) as fast as they can for a while, and reports
// the latency percentiles, the reply size and the daemon's CPU time per
// request (from /proc/PID/stat, so the clients' own cost is not in it).
//
//	go run ./scripts/bench/statusload -tend ./tend [-base ./tend-old] [-n 1000] [-clients 50] [-for 20s] [-api json,xmlrpc]
//
// With -base, the two binaries are measured alternately (base first) on
// the same API, so a change is compared at the same moments of a noisy
// machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const xmlCall = "<?xml version='1.0'?><methodCall><methodName>supervisor.getAllProcessInfo</methodName><params></params></methodCall>"

func main() {
	tend := flag.String("tend", "", "the tend binary")
	base := flag.String("base", "", "a second tend binary, measured alternately")
	n := flag.Int("n", 1000, "programs")
	clients := flag.Int("clients", 50, "concurrent clients")
	dur := flag.Duration("for", 20*time.Second, "how long the clients poll")
	apis := flag.String("api", "json,xmlrpc", "which APIs to poll, in turn")
	newConn := flag.Bool("new-conn", false, "a new connection per request, as a CLI invocation makes")
	floor := flag.Bool("floor", false, "also poll a minimal Go HTTP server serving the same reply bytes: the floor of the method on this machine")
	if len(os.Args) == 5 && os.Args[1] == serveArg {
		serveStatic(os.Args[2], os.Args[3], os.Args[4])
		return
	}
	flag.Parse()
	if *tend == "" {
		fmt.Fprintln(os.Stderr, "statusload: -tend is required")
		os.Exit(2)
	}
	bins := []string{*tend}
	names := []string{"tend"}
	if *base != "" {
		bins, names = []string{*base, *tend}, []string{"base", "tend"}
	}
	for _, api := range strings.Split(*apis, ",") {
		for i, bin := range bins {
			r, ref, err := run(bin, *n, *clients, *dur, api, *newConn, *floor)
			if err != nil {
				fmt.Fprintf(os.Stderr, "statusload: %s %s: %v\n", names[i], api, err)
				os.Exit(1)
			}
			if *floor {
				fmt.Printf("%-4s %-6s n=%d clients=%d: %d requests (%.0f/s), p50 %.2f ms, p99 %.2f ms, max %.2f ms, reply %d B, server CPU %.3f ms/request\n",
					"floor", api, *n, *clients, ref.count, float64(ref.count)/dur.Seconds(), ms(ref.p50), ms(ref.p99), ms(ref.max), ref.size, ref.cpuPerReq*1000)
			}
			fmt.Printf("%-4s %-6s n=%d clients=%d: %d requests (%.0f/s), p50 %.2f ms, p99 %.2f ms, max %.2f ms, reply %d B, daemon CPU %.3f ms/request\n",
				names[i], api, *n, *clients, r.count, float64(r.count)/dur.Seconds(), ms(r.p50), ms(r.p99), ms(r.max), r.size, r.cpuPerReq*1000)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type result struct {
	count         int
	p50, p99, max time.Duration
	size          int
	cpuPerReq     float64 // seconds
}

// run starts one daemon, waits for every program to run, polls and stops.
// With floor, the same clients then poll a minimal server (serveStatic)
// answering every request with the daemon's reply, as a second result.
func run(bin string, n, clients int, dur time.Duration, api string, newConn, floor bool) (result, result, error) {
	var none result
	dir, err := os.MkdirTemp("", "statusload-")
	if err != nil {
		return none, none, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "sock")
	conf := filepath.Join(dir, "tend.lua")
	cfg := fmt.Sprintf(`daemon { logfile = %q, pidfile = %q, childlogdir = %q, socket = { path = %q } }
program "w" {
  command = "sleep 1000000", numprocs = %d, process_name = "%%(program_name)s_%%(process_num)d",
  startsecs = 0, stdout_logfile = "NONE", redirect_stderr = true,
}
`, filepath.Join(dir, "daemon.log"), filepath.Join(dir, "daemon.pid"), dir, sock, n)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return none, none, err
	}
	cmd := exec.Command(bin, "daemon", "-c", conf)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return none, none, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	if err := waitRunning(newClient(sock, false), n); err != nil {
		return none, none, err
	}
	r, body, err := poll(sock, cmd.Process.Pid, clients, dur, api, newConn)
	if err != nil || !floor {
		return r, none, err
	}
	bodyFile, refSock := filepath.Join(dir, "reply"), filepath.Join(dir, "floor.sock")
	if err := os.WriteFile(bodyFile, body, 0o644); err != nil {
		return none, none, err
	}
	ctype := "application/json"
	if api == "xmlrpc" {
		ctype = "text/xml"
	}
	srv := exec.Command(os.Args[0], serveArg, refSock, bodyFile, ctype)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return none, none, err
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(refSock); err == nil {
			break
		} else if time.Now().After(deadline) {
			return none, none, fmt.Errorf("floor server: no socket after 10 s")
		}
	}
	ref, _, err := poll(refSock, srv.Process.Pid, clients, dur, api, newConn)
	return r, ref, err
}

// serveArg makes statusload the floor's server (serveStatic).
const serveArg = "-serve-static"

// serveStatic answers every request on the unix socket sock with the bytes
// of bodyFile: all a status server must do, with none of the work.
func serveStatic(sock, bodyFile, ctype string) {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "statusload:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "statusload:", err)
		os.Exit(1)
	}
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "statusload:", err)
	os.Exit(1)
}

// newClient is an HTTP client for the unix socket sock.
func newClient(sock string, newConn bool) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: newConn,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// poll runs the clients against sock for dur; pid is the server, whose CPU
// is counted. It also returns one reply's bytes.
func poll(sock string, pid, clients int, dur time.Duration, api string, newConn bool) (result, []byte, error) {
	var none result
	client := func() *http.Client { return newClient(sock, newConn) }
	var first []byte
	do := func(c *http.Client) (int, error) {
		var resp *http.Response
		var err error
		if api == "xmlrpc" {
			resp, err = c.Post("http://tend/RPC2", "text/xml", strings.NewReader(xmlCall))
		} else {
			resp, err = c.Get("http://tend/v1/status")
		}
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if first == nil {
			first, err = io.ReadAll(resp.Body)
			return len(first), err
		}
		b, err := io.Copy(io.Discard, resp.Body)
		return int(b), err
	}
	size, err := do(client())
	if err != nil {
		return none, nil, err
	}
	cpu0 := cpuSeconds(pid)
	end := time.Now().Add(dur)
	lat := make([][]time.Duration, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client()
			for time.Now().Before(end) {
				t := time.Now()
				if _, err := do(c); err != nil {
					errs <- err
					return
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		}()
	}
	wg.Wait()
	cpu := cpuSeconds(pid) - cpu0
	close(errs)
	if err := <-errs; err != nil {
		return none, nil, err
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return none, nil, errors.New("no request completed")
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	return result{count: len(all), p50: pct(0.50), p99: pct(0.99), max: all[len(all)-1], size: size,
		cpuPerReq: cpu / float64(len(all))}, first, nil
}

// waitRunning polls the JSON status until n programs are RUNNING.
func waitRunning(c *http.Client, n int) error {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := c.Get("http://tend/v1/status")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Count(string(b), `"statename":"RUNNING"`) >= n {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the %d programs were not all RUNNING after 3 minutes", n)
}

// cpuSeconds is the user and system time of pid so far.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}
