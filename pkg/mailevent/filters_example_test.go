package mailevent_test

import (
	"fmt"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Failures gives the subject filters of a consumer that acts on every
// bounce, failed delivery and deferred delivery.
func ExampleSubjects_Failures() {
	subjects := mailevent.Subjects{Prefix: "mail"}
	fmt.Println(subjects.Failures())
	fmt.Println(subjects.DeadLetter("billing"))
	// Output:
	// [mail.bounces.* mail.deliveries.failed mail.deliveries.deferred]
	// mail.deadletter.billing
}
