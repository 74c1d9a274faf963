// Package logfile writes child output and the daemon's own log to files
// with supervisord's rotation rules, and reads them back for tail.
//
// The pieces:
//
//   - File: an append-only log file that rotates exactly like supervisord's
//     RotatingFileHandler (size checked after each whole write; .1 … .N
//     backups; backups=0 truncates in place; maxBytes=0 never rotates), or a
//     pass-through to a non-regular file such as /dev/stdout or a FIFO.
//   - Read / Tail (and ReadPath / TailPath for files that are not open):
//     supervisord's readProcessLog/readLog and tailProcessLog semantics.
//   - AutoName / CleanAuto: supervisord's AUTO child log names and their
//     clean-up at start-up.
//   - Capture: copies a child's pipe to a callback without holding a buffer
//     while the pipe is idle.
//   - Handler: a slog.Handler producing supervisord's main log line format,
//     with ParseLevel for supervisord's loglevel names.
//
// The only package-level mutable state is the pool of capture buffers and
// the locks that serialise writes to the daemon's own stdout and stderr.
package logfile
