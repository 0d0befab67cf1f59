package dev.durabledeploy.git.jgit;

import java.net.InetAddress;

/**
 * Decides which network addresses a clone may connect to, after the URL's host has been resolved:
 * every address an {@code https}/{@code http} host (redirects included) or an {@code ssh} host
 * resolves to is checked right before the connection, so a tenant's URL cannot reach what the host
 * did not mean to expose (a cloud metadata endpoint, an internal service).
 *
 * <p>The default, {@link #NOT_LINK_LOCAL}, refuses only addresses where no git server lives. A host
 * that clones URLs its tenants choose should use {@link #publicOnly()} or its own filter.
 */
@FunctionalInterface
public interface AddressFilter {

  /** Whether a clone may connect to {@code address}, which {@code host} resolved to. */
  boolean permits(String host, InetAddress address);

  /** Every address. */
  AddressFilter ANY = (host, address) -> true;

  /**
   * Refuses link-local addresses (169.254.0.0/16, where most cloud metadata endpoints such as
   * 169.254.169.254 live, and fe80::/10), the cloud metadata and host endpoints outside them (AWS's
   * fd00:ec2::/32 with fd00:ec2::254, Alibaba's 100.100.100.200, Azure's 168.63.129.16, Oracle's
   * 192.0.0.192 and fd00:c1::a9fe:a9fe, Google Cloud's fd20:ce::254, Scaleway's fd00:42::42,
   * Akamai/Linode's fd00:a9fe:a9fe::1), the unspecified address (0.0.0.0, ::), 0.0.0.0/8 and
   * multicast; an IPv6 address that embeds such an IPv4 address (NAT64 {@code 64:ff9b::a9fe:a9fe},
   * 6to4, Teredo, IPv4-mapped or -compatible) is refused too. The default: loopback and private
   * networks stay reachable for self-hosted git servers.
   */
  AddressFilter NOT_LINK_LOCAL = (host, address) -> !AddressRanges.isLinkLocalOrMetadata(address);

  /**
   * Only public internet addresses: refuses, besides {@link #NOT_LINK_LOCAL}, loopback
   * (127.0.0.0/8, ::1), private networks (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7,
   * fec0::/10), shared address space (100.64.0.0/10), the reserved IPv4 ranges 192.0.0.0/24,
   * 198.18.0.0/15 and 240.0.0.0/4, and the local-use NAT64 prefix 64:ff9b:1::/48. The IPv4 address
   * an IPv6 address embeds (NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo, IPv4-mapped, -translated
   * and -compatible) must pass the same rules, since a translator or tunnel delivers to it. For
   * hosts that clone URLs their tenants choose.
   */
  static AddressFilter publicOnly() {
    return (host, address) -> !AddressRanges.isNonPublic(address);
  }
}
