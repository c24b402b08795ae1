# shellcheck shell=bash
# The Acme issuer end to end (sourced by certs.sh after its main server stopped): Debian's
# pebble on loopback with PEBBLE_VA_NOSLEEP=1 and PEBBLE_WFE_NONCEREJECT=0, pebble-challtestsrv
# as pebble's DNS (every name -> 127.0.0.1), a cofferd whose http-01 listener
# (--acme-http01-listen) is pebble's httpPort. An issuer with provider Acme; a create stays
# inProgress until the order is valid, then the version appears; the official Python SDK's
# poller (begin_create_certificate) finishes on it; the leaf verifies against pebble's root
# and carries the pending key; a renewal (AutoRenew 2500 days before the expiry of a
# certificate pebble issues for 5 years: due at once) goes through the same path.
# Needs: /usr/bin/pebble (tools/install-deps.sh) and a cofferd that knows --acme-http01-listen.

acme_section() {
    local pebble_pid="" chall_pid="" lport dport mport hport pmport tport i st
    if [ ! -x /usr/bin/pebble ] || [ ! -x /usr/bin/pebble-challtestsrv ]; then
        fail "acme: Debian's pebble is installed (tools/install-deps.sh)"
        return
    fi
    if ! "$COFFERD" --help 2>&1 | grep -q acme.http01.listen; then
        echo "  skip acme: this cofferd has no --acme-http01-listen (server/acme.c not wired in main.c)"
        return
    fi
    lport=$(free_port) dport=$(free_port) mport=$(free_port) hport=$(free_port)
    pmport=$(free_port) tport=$(free_port)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
        -keyout "$W/pebble.key" -out "$W/pebble.pem" >/dev/null 2>&1
    cat >"$W/pebble.json" <<EOF
{"pebble":{"listenAddress":"127.0.0.1:$lport","managementListenAddress":"127.0.0.1:$pmport",
 "certificate":"$W/pebble.pem","privateKey":"$W/pebble.key","httpPort":$hport,
 "tlsPort":$tport,"ocspResponderURL":"","externalAccountBindingRequired":false}}
EOF
    /usr/bin/pebble-challtestsrv -http01 "" -https01 "" -tlsalpn01 "" -dns01 "127.0.0.1:$dport" \
        -management "127.0.0.1:$mport" -defaultIPv6 "" -defaultIPv4 127.0.0.1 \
        >"$E2E_WORK/$SUITE-challtestsrv.log" 2>&1 &
    chall_pid=$!
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 /usr/bin/pebble -config "$W/pebble.json" \
        -dnsserver "127.0.0.1:$dport" >"$E2E_WORK/$SUITE-pebble.log" 2>&1 &
    pebble_pid=$!
    for ((i = 0; i < 100; i++)); do
        curl -sf --cacert "$W/pebble.pem" -o /dev/null "https://127.0.0.1:$lport/dir" && break
        sleep 0.1
    done
    curl -sf --cacert "$W/pebble.pem" -o /dev/null "https://127.0.0.1:$lport/dir"
    expect_eq "pebble serves its ACME directory" 0 "$?"

    e2e_start acme "" "" --acme-http01-listen "127.0.0.1:$hport" || { kill "$pebble_pid" "$chall_pid"; return; }
    TOK=$(get_token "$(vault_resource)/.default")
    H=(-H "Authorization: Bearer $TOK" -H "Content-Type: application/json")
    VU=$COFFER_VAULT_URL
    req PUT "$VU/certificates/issuers/pebble?$AV" "${H[@]}" --data \
        "{\"provider\":\"Acme\",\"credentials\":{\"account_id\":\"https://127.0.0.1:$lport/dir\"},\"org_details\":{\"acme\":{\"ca_file\":\"$W/pebble.pem\",\"email\":\"ops@coffer.test\"}}}"
    expect_eq "acme: issuer with provider Acme: 200" 200 "$CODE"
    req POST "$VU/certificates/web/create?$AV" "${H[@]}" --data \
        '{"policy":{"issuer":{"name":"pebble"},"key_props":{"kty":"EC"},"x509_props":{"subject":"CN=web.coffer.test","sans":{"dns_names":["web.coffer.test","www.coffer.test"]},"validity_months":100},"lifetime_actions":[{"trigger":{"days_before_expiry":2500},"action":{"action_type":"AutoRenew"}}]}}'
    expect_eq "acme: create 202 inProgress" "202 inProgress" "$CODE $(b 'd["status"]')"
    st=""
    for ((i = 0; i < 100; i++)); do
        req GET "$VU/certificates/web/pending?$AV" "${H[@]}"
        st=$(b 'd["status"]')
        [ "$st" = inProgress ] || break
        sleep 0.2
    done
    expect_eq "acme: the operation completes once the order is valid" completed "$st"
    req GET "$VU/certificates/web?$AV" "${H[@]}"
    expect_eq "acme: the certificate version appears" 200 "$CODE"
    req GET "$VU/secrets/web?$AV" "${H[@]}"
    "$PY" -c 'import base64,json,sys; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["value"]))' \
        "$RB" >"$W/web.pfx"
    chmod 600 "$W/web.pfx"
    openssl pkcs12 -in "$W/web.pfx" -passin pass: -nokeys -clcerts -out "$W/web-leaf.pem" 2>/dev/null
    openssl pkcs12 -in "$W/web.pfx" -passin pass: -nokeys -cacerts -out "$W/web-chain.pem" 2>/dev/null
    curl -sf --cacert "$W/pebble.pem" -o "$W/pebble-root.pem" "https://127.0.0.1:$pmport/roots/0"
    expect_eq "acme: the leaf verifies against pebble's root" "$W/web-leaf.pem: OK" \
        "$(openssl verify -CAfile "$W/pebble-root.pem" -untrusted "$W/web-chain.pem" "$W/web-leaf.pem" 2>&1)"
    expect_eq "acme: the leaf names web.coffer.test and www.coffer.test" \
        "DNS:web.coffer.test, DNS:www.coffer.test" \
        "$(openssl x509 -in "$W/web-leaf.pem" -noout -ext subjectAltName 2>/dev/null | tail -n 1 | sed 's/^ *//' | tr ',' '\n' | sed 's/^ *//' | sort | paste -sd, | sed 's/,/, /g')"
    expect_eq "acme: the PFX key matches its certificate" \
        "$(openssl x509 -in "$W/web-leaf.pem" -noout -pubkey 2>/dev/null | sha256sum)" \
        "$(openssl pkcs12 -in "$W/web.pfx" -passin pass: -nocerts -nodes 2>/dev/null | openssl pkey -pubout 2>/dev/null | sha256sum)"

    # the official Python SDK's poller (begin_create_certificate) finishes on an ACME order
    "$PY" - "$VU" >"$E2E_WORK/$SUITE-acme-sdk.out" 2>&1 <<'EOF'
import logging, os, sys
from azure.identity import ClientSecretCredential
from azure.keyvault.certificates import CertificateClient, CertificatePolicy
logging.getLogger("azure").setLevel(logging.ERROR)
cred = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"],
                              os.environ["AZURE_CLIENT_SECRET"],
                              authority=os.environ["AZURE_AUTHORITY_HOST"],
                              instance_discovery=False, disable_instance_discovery=True)
c = CertificateClient(sys.argv[1], cred)
pol = CertificatePolicy(issuer_name="pebble", subject="CN=sdk.coffer.test",
                        san_dns_names=["sdk.coffer.test"])
cert = c.begin_create_certificate("sdk", pol, _polling_interval=0.2).result()
print("OK", cert.name, len(cert.cer) > 100)
EOF
    expect_eq "acme: the Python SDK poller returns the certificate" "OK sdk True" \
        "$(tail -n 1 "$E2E_WORK/$SUITE-acme-sdk.out")"

    # renewal: due at once; the janitor runs it within a minute (its period) and the same
    # ACME path issues a new version
    req GET "$VU/certificates/web?$AV" "${H[@]}"
    v1=$(b 'd["id"].rsplit("/",1)[1]')
    v2=$v1
    for ((i = 0; i < 90; i++)); do
        sleep 1
        req GET "$VU/certificates/web?$AV" "${H[@]}"
        v2=$(b 'd["id"].rsplit("/",1)[1]')
        [ "$v2" = "$v1" ] || break
    done
    expect_eq "acme: AutoRenew issued a new version through ACME" 1 "$([ -n "$v2" ] && [ "$v2" != "$v1" ] && echo 1 || echo 0)"
    e2e_stop
    kill "$pebble_pid" "$chall_pid" 2>/dev/null
    wait "$pebble_pid" "$chall_pid" 2>/dev/null
}
acme_section
