import { BlockList, isIP } from 'node:net';

// IP addresses and CIDR ranges as the configuration names them (`trustedProxies`): checked when the
// configuration is loaded (config/schema.ts) and matched against each connection (http/origin.ts).

/** A BlockList of addresses and CIDR ranges (`10.0.0.0/8`, `::1`, `fd00::/8`). */
export function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/** True when `entry` is an IP address or a CIDR range of one. */
export function isAddressOrRange(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const version = isIP(address ?? '');
  if (!version || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}
