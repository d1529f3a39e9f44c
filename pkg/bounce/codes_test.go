package bounce

import "testing"

func TestParseCodes(t *testing.T) {
	tests := []struct {
		name, text, reply, enhanced string
	}{
		{"plain reply", "550 5.1.1 <kenji@example.jp>: Recipient address rejected", "550", "5.1.1"},
		{"multi-line reply", "550-5.1.1 The account does not exist. 550-5.1.1 Check the address.", "550", "5.1.1"},
		{"hash prefix", "Sorry, no mailbox here by that name. (#5.1.1)", "", "5.1.1"},
		{"bracketed hash", "Resources busy [#4.3.2]. Retrying later.", "", "4.3.2"},
		{"relayed pair wins", "5.1.0 - Unknown address error 550-'5.2.2 <aiko@example.jp>... Mailbox Full' (delivery attempts: 0)", "550", "5.2.2"},
		{"duplicated code", "The error was: 554 554 5.7.0 Header error (state 18).", "554", "5.7.0"},
		{"enhanced alone", "4.7.0", "", "4.7.0"},
		{"three-digit detail", "451 4.7.650 The mail server has been rate limited", "451", "4.7.650"},
		{"colon after code", "550: 5.1.1 <taro@example.jp>... User Unknown", "550", "5.1.1"},
		{"labeled fields", "Invalid Address, ERROR_CODE :550, ERROR_CODE :5.2.1 <x@example.jp>", "550", "5.2.1"},
		{"reply code only", "421 Service not available, closing transmission channel", "421", ""},
		{"bare reply code", "421", "421", ""},
		{"no codes", "Unrouteable address", "", ""},
		{"empty", "", "", ""},
		{"IPv4 address", "connect to mx.example.net[203.0.113.25]:25: Connection timed out", "", ""},
		{"address starting with a class digit", "host 5.9.12.3 said nothing useful", "", ""},
		{"port", "connect to mail.example.net:443 failed", "", ""},
		{"date and time", "Arrival-Date: 2024-04-29T23:34:45.000Z queue id 451a", "", ""},
		{"long number", "could not deliver for the last 432000 seconds", "", ""},
		{"dotted version", "agent v4.5.6 failed", "", ""},
		{"four-part dotted", "see code 4.16.55.1 for details", "", ""},
		{"subject above 7", "error 5.9.1 happened", "", ""},
		{"reply second digit above 5", "queue 590 items", "", ""},
		{"code inside an identifier", "OFR_506 [999] mwinf5c04", "", ""},
		{"paired class must match", "421 5.7.1 odd server", "421", "5.7.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, enhanced := ParseCodes(tt.text)
			if reply != tt.reply {
				t.Errorf("ParseCodes(%q) reply code = %q, want %q", tt.text, reply, tt.reply)
			}
			if enhanced != tt.enhanced {
				t.Errorf("ParseCodes(%q) enhanced status = %q, want %q", tt.text, enhanced, tt.enhanced)
			}
		})
	}
}
