package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"
)

// childEnv selects a child mode: the harness runs itself as the program
// tend supervises, so that what a child wrote is known exactly.
//
//	TEND_SOAK_CHILD=writer SOAK_BYTES=N   write N bytes of numbered lines, exit 0
//	TEND_SOAK_CHILD=trickle SOAK_RATE=N   write numbered lines at N bytes/s forever
const childEnv = "TEND_SOAK_CHILD"

// lineLen is the length of every numbered line, so that the byte at any
// offset of the stream is known without keeping the stream.
const lineLen = 64

// streamLine returns line i of the stream: its number, then a filler that
// changes with the number, then a newline.
func streamLine(i int64) []byte {
	b := make([]byte, 0, lineLen)
	b = fmt.Appendf(b, "%012d ", i)
	c := byte('a' + i%26)
	for len(b) < lineLen-1 {
		b = append(b, c)
	}
	return append(b, '\n')
}

// childMain runs a child mode and returns its exit status.
func childMain() int {
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	switch os.Getenv(childEnv) {
	case "writer":
		n, _ := strconv.ParseInt(os.Getenv("SOAK_BYTES"), 10, 64)
		for i := int64(0); i < n/lineLen; i++ {
			if _, err := w.Write(streamLine(i)); err != nil {
				return 1
			}
		}
		if err := w.Flush(); err != nil {
			return 1
		}
		return 0
	case "trickle":
		rate, _ := strconv.ParseInt(os.Getenv("SOAK_RATE"), 10, 64)
		perTick := max(rate/20/lineLen, 1)
		for i := int64(0); ; {
			for j := int64(0); j < perTick; j++ {
				w.Write(streamLine(i))
				i++
			}
			if err := w.Flush(); err != nil {
				return 1
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	fmt.Fprintln(os.Stderr, "soak child: unknown mode", os.Getenv(childEnv))
	return 2
}
