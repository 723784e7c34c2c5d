# benches/lib.sh - helpers shared by the bench scripts; sourced, not run.

# fixed_contact_scenario DEST: benches/sipp/register_inf.xml written to DEST with the Contact's
# port fixed at 5061 instead of SIPp's [local_port]. With TRANSPORT=tcp-per-call every SIPp call
# opens its own connection from a new port, and a phone's Contact keeps one port across its
# connections: a Contact that moved with the port would make every refresh a new binding.
fixed_contact_scenario() {
    sed 's/^\( *Contact: <sip:\[field0\]@\[local_ip\]:\)\[local_port\]/\15061/' \
        "$ROOT/benches/sipp/register_inf.xml" > "$1"
}
