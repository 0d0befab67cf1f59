package dev.durabledeploy.git.jgit;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import java.util.Set;

/**
 * The address ranges behind {@link AddressFilter}'s filters: cloud metadata endpoints, the
 * non-public IPv4 and IPv6 ranges, and the IPv4 address an IPv6 address carries when a translator
 * or tunnel would deliver it to that IPv4 host (NAT64, 6to4, Teredo, IPv4-mapped, -translated and
 * -compatible): such an address is judged by the IPv4 rules too, or {@code 64:ff9b::a9fe:a9fe}
 * would reach 169.254.169.254 through the network's NAT64.
 */
final class AddressRanges {

  private AddressRanges() {}

  /**
   * Cloud instance metadata and host endpoints outside the link-local ranges: Alibaba's
   * 100.100.100.200, Azure's WireServer 168.63.129.16, Oracle's 192.0.0.192, and the IPv6 ones of
   * Google Cloud (fd20:ce::254), Oracle (fd00:c1::a9fe:a9fe), Scaleway (fd00:42::42) and
   * Akamai/Linode (fd00:a9fe:a9fe::1). AWS's IPv6 service block fd00:ec2::/32 (instance metadata
   * fd00:ec2::254, EKS pod identity fd00:ec2::23, DNS, time) is checked as a range. The IPv4 ones
   * of AWS, Google Cloud, Azure, DigitalOcean, Oracle, OpenStack and Tencent (169.254.169.254,
   * 169.254.170.2, 169.254.0.23...) are link-local and refused as such.
   */
  private static final Set<InetAddress> METADATA =
      Set.of(
          literal("100.100.100.200"),
          literal("168.63.129.16"),
          literal("192.0.0.192"),
          literal("fd20:ce::254"),
          literal("fd00:c1::a9fe:a9fe"),
          literal("fd00:42::42"),
          literal("fd00:a9fe:a9fe::1"));

  private static InetAddress literal(String address) {
    try {
      return InetAddress.getByName(address); // a literal: no lookup
    } catch (UnknownHostException e) {
      throw new IllegalStateException(address, e);
    }
  }

  /** Link-local, unspecified, multicast, the zero network or a metadata endpoint. */
  static boolean isLinkLocalOrMetadata(InetAddress address) {
    if (isLocalOnly(address)) {
      return true;
    }
    Optional<Inet4Address> embedded = embeddedIpv4(address);
    if (embedded.isPresent() && isLocalOnly(embedded.get())) {
      return true;
    }
    // A local-use NAT64 prefix (64:ff9b:1::/48) may embed the IPv4 address at several offsets;
    // the /96 one, the common one, is checked above like the well-known prefix.
    return false;
  }

  private static boolean isLocalOnly(InetAddress address) {
    return address.isLinkLocalAddress()
        || address.isAnyLocalAddress()
        || address.isMulticastAddress()
        || isZeroNetwork(address)
        || isMetadata(address);
  }

  /**
   * Not a public internet address: {@link #isLinkLocalOrMetadata}, loopback, private and shared
   * networks, reserved IPv4 ranges, unique-local and site-local IPv6, the local-use NAT64 prefix,
   * and any IPv6 address whose embedded IPv4 address is one of those.
   */
  static boolean isNonPublic(InetAddress address) {
    if (isLinkLocalOrMetadata(address) || isPrivate(address)) {
      return true;
    }
    Optional<Inet4Address> embedded = embeddedIpv4(address);
    return embedded.isPresent() && isPrivate(embedded.get());
  }

  private static boolean isPrivate(InetAddress address) {
    return address.isLoopbackAddress()
        || address.isSiteLocalAddress()
        || isUniqueLocal(address)
        || isSharedAddressSpace(address)
        || isReservedIpv4(address)
        || isLocalUseNat64(address);
  }

  /**
   * The IPv4 address an IPv6 address delivers to: the last 32 bits of IPv4-mapped ({@code
   * ::ffff:0:0/96}), IPv4-translated ({@code ::ffff:0:0:0/96}), IPv4-compatible ({@code ::/96}) and
   * NAT64 ({@code 64:ff9b::/96}, and {@code 64:ff9b:1::/48} in its /96 form) addresses, bits 16-47
   * of 6to4 ({@code 2002::/16}), and the Teredo client ({@code 2001::/32}, last 32 bits inverted).
   */
  static Optional<Inet4Address> embeddedIpv4(InetAddress address) {
    if (!(address instanceof Inet6Address)) {
      return Optional.empty();
    }
    byte[] b = address.getAddress();
    if (zeros(b, 0, 10) && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
      return ipv4(b[12], b[13], b[14], b[15]); // IPv4-mapped
    }
    if (zeros(b, 0, 8) && (b[8] & 0xff) == 0xff && (b[9] & 0xff) == 0xff && zeros(b, 10, 12)) {
      return ipv4(b[12], b[13], b[14], b[15]); // IPv4-translated (SIIT)
    }
    if (zeros(b, 0, 12) && !zeros(b, 12, 15)) {
      return ipv4(b[12], b[13], b[14], b[15]); // IPv4-compatible (deprecated), not :: or ::1
    }
    if (b[0] == 0 && b[1] == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b) {
      if (zeros(b, 4, 12) || (b[4] == 0 && b[5] == 1 && zeros(b, 6, 12))) {
        return ipv4(b[12], b[13], b[14], b[15]); // NAT64, well-known or local-use /96
      }
      return Optional.empty();
    }
    if (b[0] == 0x20 && b[1] == 0x02) {
      return ipv4(b[2], b[3], b[4], b[5]); // 6to4
    }
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
      return ipv4((byte) ~b[12], (byte) ~b[13], (byte) ~b[14], (byte) ~b[15]); // Teredo client
    }
    return Optional.empty();
  }

  private static boolean zeros(byte[] b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  private static Optional<Inet4Address> ipv4(byte a, byte b, byte c, byte d) {
    try {
      return Optional.of((Inet4Address) InetAddress.getByAddress(new byte[] {a, b, c, d}));
    } catch (UnknownHostException e) {
      throw new IllegalStateException("four bytes are an IPv4 address", e);
    }
  }

  private static boolean isMetadata(InetAddress address) {
    byte[] b = address.getAddress();
    boolean awsServiceBlock =
        address instanceof Inet6Address
            && (b[0] & 0xff) == 0xfd
            && b[1] == 0
            && (b[2] & 0xff) == 0x0e
            && (b[3] & 0xff) == 0xc2;
    return awsServiceBlock || METADATA.contains(withoutScope(address));
  }

  private static InetAddress withoutScope(InetAddress address) {
    try {
      return InetAddress.getByAddress(address.getAddress());
    } catch (UnknownHostException e) {
      throw new IllegalStateException("an address's own bytes are an address", e);
    }
  }

  private static boolean isZeroNetwork(InetAddress address) {
    return address instanceof Inet4Address && address.getAddress()[0] == 0;
  }

  private static boolean isUniqueLocal(InetAddress address) {
    return address instanceof Inet6Address && (address.getAddress()[0] & 0xfe) == 0xfc;
  }

  private static boolean isSharedAddressSpace(InetAddress address) {
    byte[] b = address.getAddress();
    return address instanceof Inet4Address && (b[0] & 0xff) == 100 && (b[1] & 0xc0) == 64;
  }

  /**
   * IETF protocol assignments 192.0.0.0/24, benchmarking 198.18.0.0/15, and the reserved
   * 240.0.0.0/4 with the broadcast address: no public git server lives there.
   */
  private static boolean isReservedIpv4(InetAddress address) {
    if (!(address instanceof Inet4Address)) {
      return false;
    }
    byte[] b = address.getAddress();
    int first = b[0] & 0xff;
    return (first == 192 && b[1] == 0 && b[2] == 0)
        || (first == 198 && (b[1] & 0xfe) == 18)
        || first >= 240;
  }

  /** 64:ff9b:1::/48 (RFC 8215): translation inside one network, never public. */
  private static boolean isLocalUseNat64(InetAddress address) {
    byte[] b = address.getAddress();
    return address instanceof Inet6Address
        && b[0] == 0
        && b[1] == 0x64
        && (b[2] & 0xff) == 0xff
        && (b[3] & 0xff) == 0x9b
        && b[4] == 0
        && b[5] == 1;
  }
}
