/**
 * Quorum arithmetic, kept apart from the protocol so each rule is easy to check: the
 * committed index of a majority, the outcome of a vote, both for a single configuration
 * and for a joint one (a majority of each half).
 *
 * @module
 */

import type { Membership, NodeId } from './types.js';

/** The outcome of an election so far. */
export type VoteOutcome = 'won' | 'lost' | 'pending';

/** The highest index that a majority of `voters` has (0 for no voters: no constraint). */
function majorityIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) {
    return Number.MAX_SAFE_INTEGER;
  }
  const matches = voters.map(matchOf).sort((left, right) => right - left);
  return matches[Math.floor(voters.length / 2)] as number;
}

/**
 * The highest index replicated on a majority of the voters (of both halves during a
 * joint change).
 */
export function committedIndex(membership: Membership, matchOf: (id: NodeId) => number): number {
  const incoming = majorityIndex(membership.voters, matchOf);
  const outgoing = majorityIndex(membership.votersOutgoing, matchOf);
  const index = Math.min(incoming, outgoing);
  return index === Number.MAX_SAFE_INTEGER ? 0 : index;
}

function majorityVote(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  if (voters.length === 0) {
    return 'won';
  }
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) {
      missing += 1;
    } else if (vote) {
      granted += 1;
    }
  }
  const quorum = Math.floor(voters.length / 2) + 1;
  if (granted >= quorum) {
    return 'won';
  }
  return granted + missing >= quorum ? 'pending' : 'lost';
}

/** The outcome of a vote: won only with a majority of each half of the membership. */
export function voteOutcome(
  membership: Membership,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteOutcome {
  const incoming = majorityVote(membership.voters, votes);
  const outgoing = majorityVote(membership.votersOutgoing, votes);
  if (incoming === 'lost' || outgoing === 'lost') {
    return 'lost';
  }
  return incoming === 'won' && outgoing === 'won' ? 'won' : 'pending';
}

/** True when `id` votes in `membership` (in either half). */
export function isVoter(membership: Membership, id: NodeId): boolean {
  return membership.voters.includes(id) || membership.votersOutgoing.includes(id);
}

/** Every member once: voters, outgoing voters and learners. */
export function allMembers(membership: Membership): NodeId[] {
  const members = new Set<NodeId>([
    ...membership.voters,
    ...membership.votersOutgoing,
    ...membership.learners,
  ]);
  return [...members].sort();
}
