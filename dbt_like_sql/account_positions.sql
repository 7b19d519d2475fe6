-- What each account holds: the custodian's positions, or, for an account the positions
-- file lists no row for, the sums of its lots (validation reconciles the two where both
-- exist; an account must never be valued at its cash alone because its rows are absent).
with lot_sums as (
    select
        lot.account_id,
        lot.security_id,
        lot.symbol,
        fsum(lot.quantity) as quantity
    from lots as lot
    where lot.account_id not in (select pos.account_id from positions as pos)
    group by lot.account_id, lot.security_id, lot.symbol
)

select pos.account_id, pos.security_id, pos.symbol, pos.quantity
from positions as pos
union all
select ls.account_id, ls.security_id, ls.symbol, ls.quantity
from lot_sums as ls
order by account_id, security_id, symbol
