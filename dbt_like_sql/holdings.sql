-- Positions in securities of the master, one row per account and security, with the
-- date's close (null when there is none, and then market_value and weight are null).
with held as (
    select
        pos.account_id,
        pos.security_id,
        fsum(pos.quantity) as quantity
    from account_positions as pos
    group by pos.account_id, pos.security_id
)

select
    held.account_id,
    held.security_id,
    held.quantity,
    sp.close as price,
    held.quantity * sp.close as market_value,
    case
        when av.total_value > 0 then held.quantity * sp.close / av.total_value
    end as weight,
    sec.asset_class,
    sec.sector,
    coalesce(sec.identical_group, sec.security_id) as identical_group
from held
join securities as sec on held.security_id = sec.security_id
left join security_prices as sp on held.security_id = sp.security_id
left join account_valuations as av on held.account_id = av.account_id
order by held.account_id, held.security_id
