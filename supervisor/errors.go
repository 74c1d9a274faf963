package supervisor

import "fmt"

// Fault is a supervisord XML-RPC fault code. The engine's operations fail
// with an *Error carrying one, so every client (CLI, XML-RPC, web page, Lua)
// reports the same condition the same way.
type Fault int

// The fault codes of supervisord's XML-RPC interface.
const (
	FaultUnknownMethod        Fault = 1
	FaultIncorrectParameters  Fault = 2
	FaultBadArguments         Fault = 3
	FaultSignatureUnsupported Fault = 4
	FaultShutdownState        Fault = 6
	FaultBadName              Fault = 10
	FaultBadSignal            Fault = 11
	FaultNoFile               Fault = 20
	FaultNotExecutable        Fault = 21
	FaultFailed               Fault = 30
	FaultAbnormalTermination  Fault = 40
	FaultSpawnError           Fault = 50
	FaultAlreadyStarted       Fault = 60
	FaultNotRunning           Fault = 70
	FaultSuccess              Fault = 80
	FaultAlreadyAdded         Fault = 90
	FaultStillRunning         Fault = 91
	FaultCantReread           Fault = 92
)

var faultNames = map[Fault]string{
	FaultUnknownMethod: "UNKNOWN_METHOD", FaultIncorrectParameters: "INCORRECT_PARAMETERS",
	FaultBadArguments: "BAD_ARGUMENTS", FaultSignatureUnsupported: "SIGNATURE_UNSUPPORTED",
	FaultShutdownState: "SHUTDOWN_STATE", FaultBadName: "BAD_NAME", FaultBadSignal: "BAD_SIGNAL",
	FaultNoFile: "NO_FILE", FaultNotExecutable: "NOT_EXECUTABLE", FaultFailed: "FAILED",
	FaultAbnormalTermination: "ABNORMAL_TERMINATION", FaultSpawnError: "SPAWN_ERROR",
	FaultAlreadyStarted: "ALREADY_STARTED", FaultNotRunning: "NOT_RUNNING", FaultSuccess: "SUCCESS",
	FaultAlreadyAdded: "ALREADY_ADDED", FaultStillRunning: "STILL_RUNNING", FaultCantReread: "CANT_REREAD",
}

// String returns the supervisord name of the fault, such as "BAD_NAME".
func (f Fault) String() string {
	if n, ok := faultNames[f]; ok {
		return n
	}
	return fmt.Sprintf("FAULT_%d", int(f))
}

// Error is the error returned by engine operations. Its message has
// supervisord's faultString form: "NAME" or "NAME: detail".
type Error struct {
	Fault  Fault
	Detail string // usually the process or group name
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Fault.String()
	}
	return e.Fault.String() + ": " + e.Detail
}

// Is makes errors.Is(err, &Error{Fault: f}) match any *Error with fault f.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Fault == e.Fault && (t.Detail == "" || t.Detail == e.Detail)
}

func fault(f Fault, detail string) *Error { return &Error{Fault: f, Detail: detail} }

// FaultOf returns the fault code of err, FaultFailed for a non-nil error
// that is not an *Error, and FaultSuccess for nil.
func FaultOf(err error) Fault {
	if err == nil {
		return FaultSuccess
	}
	if e, ok := err.(*Error); ok {
		return e.Fault
	}
	return FaultFailed
}
